// The first overview, written at build time by build/prerender.py: the worker's own handlers
// (page.App) on the worker's own runtime answered the request the page makes first, and
// assets/prerendered/ holds that answer as the worker sends it (the view's JSON text and the
// raster buffer). The page draws it before Python has started, then compares the worker's
// first answer with these bytes: equal, nothing is redrawn.
const FOLDER = new URL("assets/prerendered/", document.baseURI);

async function fetched(name, read) {
  const response = await fetch(new URL(name, FOLDER));
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  return read(response);
}

// `want` ({model, image, range}; a missing one means the default) → the prerendered answer
// for it: {state, started, text, rasters, answer} (`answer` decoded like Client.ask's), or
// null when no state matches or the files cannot be read (the page then boots as it would
// without them). `started` is the start answer's examples, catalogue and model.
export async function prerendered(want = {}) {
  try {
    const index = await fetched("index.json", (r) => r.json());
    const { started } = index;
    const defaults = { model: started.model, image: started.examples[0]?.file, range: "layer" };
    const goal = { ...defaults, ...Object.fromEntries(Object.entries(want).filter(([, v]) => v)) };
    const state = index.states.find((s) => s.model === goal.model && s.image === goal.image && s.range === goal.range);
    if (!state) return null;
    const [text, buffer] = await Promise.all([
      fetched(state.view, (r) => r.text()),
      fetched(state.rasters, (r) => r.arrayBuffer()),
    ]);
    const rasters = new Uint8Array(buffer);
    return { state, started, text, rasters, answer: { view: JSON.parse(text), rasters } };
  } catch (error) {
    console.warn("cnnlens: no prerendered first paint:", error.message || error);
    return null;
  }
}

// Whether a raw overview answer from the worker (JSON text, RGBA bytes) is the prerendered
// one, byte for byte.
export function sameAnswer(painted, raw) {
  if (!painted || !raw || raw.error !== undefined || raw.view !== painted.text) return false;
  const a = painted.rasters;
  const b = raw.rasters;
  if (!b || a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}
