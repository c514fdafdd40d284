// Answers written at build time by build/prerender.py: the worker's own handlers (page.App)
// on the worker's own runtime answered the requests the page (or an embed) makes first, and
// assets/prerendered/ holds each answer as the worker sends it (JSON text, raster and number
// bytes, one file per field). The page draws one before Python has started, then compares
// the worker's answer with these bytes: equal, nothing is redrawn.
const FOLDER = new URL("assets/prerendered/", document.baseURI);
// The answer fields that travel as JSON text (the rest are bytes).
const TEXT = new Set(["view", "playground"]);
const FIELDS = ["view", "numbers", "rasters", "playground"];

async function fetched(name, read) {
  const response = await fetch(new URL(name, FOLDER));
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  return read(response);
}

let indexed = null;
const index = () => (indexed ??= fetched("index.json", (r) => r.json()));

// The prerendered answer of `kind` (overview, detail, playground) whose keys equal `keys`
// (a missing model or image means the start answer's): {state, started, raw, answer} — `raw`
// as the worker sends it, `answer` decoded like Client.ask's — or null when no state
// matches or the files cannot be read (the view then waits for Python, as without them).
// `started` is the start answer's examples, catalogue and model.
export async function prerenderedAnswer(kind, keys) {
  try {
    const { started, states } = await index();
    const goal = { ...keys };
    if (kind !== "playground") {
      goal.model ||= started.model;
      if (goal.model === started.model) goal.image ||= started.examples[0]?.file;
    }
    const state = states.find((s) => (s.kind || "overview") === kind && Object.entries(goal).every(([k, v]) => s[k] === v));
    if (!state) return null;
    const present = FIELDS.filter((field) => state[field]);
    const values = await Promise.all(present.map((field) => fetched(state[field], (r) => (TEXT.has(field) ? r.text() : r.arrayBuffer()))));
    const raw = Object.fromEntries(present.map((field, i) => [field, TEXT.has(field) ? values[i] : new Uint8Array(values[i])]));
    const answer = { ...raw };
    for (const field of present) if (TEXT.has(field)) answer[field] = JSON.parse(raw[field]);
    return { state, started, raw, answer, text: raw.view, rasters: raw.rasters };
  } catch (error) {
    console.warn("cnnlens: no prerendered first paint:", error.message || error);
    return null;
  }
}

// `want` ({model, image, range}; a missing one means the default) → the prerendered overview
// (as prerenderedAnswer, with `text` the view's JSON and `rasters` its bytes), or null.
export function prerendered(want = {}) {
  return prerenderedAnswer("overview", { model: want.model, image: want.image, range: want.range || "layer" });
}

const bytes = (x) => (x instanceof Uint8Array ? x : x && new Uint8Array(x.buffer ?? x, x.byteOffset ?? 0, x.byteLength));

// Whether a raw answer from the worker (JSON text, bytes) is the prerendered one, byte for
// byte, in every field the prerendered files hold.
export function sameAnswer(painted, raw) {
  if (!painted || !raw || raw.error !== undefined) return false;
  return Object.entries(painted.raw).every(([field, mine]) => {
    if (typeof mine === "string") return raw[field] === mine;
    const theirs = bytes(raw[field]);
    if (!theirs || theirs.byteLength !== mine.byteLength) return false;
    for (let i = 0; i < mine.length; i += 1) if (mine[i] !== theirs[i]) return false;
    return true;
  });
}
