// Starts Python: a PyScript worker running py/worker.py on our vendored Pyodide, with the
// packages we ship and the bundled model. Shared by the app (app.js) and embeds (embed.js).
import { Client } from "./protocol.js";
import { SNAPSHOT } from "./snapshot.js";

// PyScript's core (and the chunks it imports at start-up) loads when the worker starts, not
// with the page's modules: the prerendered overview is drawn without waiting for it.
const PYSCRIPT = "../../build/vendor/pyscript/core.js";

const here = (path) => new URL(path, document.baseURI).href;
const MB = 1e6;

// "4.2 of 12.8 MB (33%)" and the fraction done, from runtime-progress.js's `{files}`;
// null until every file's size is known.
export function downloaded(files) {
  const all = Object.values(files);
  if (!all.length || all.some((f) => !(f.size > 0))) return null;
  const size = all.reduce((sum, f) => sum + f.size, 0);
  const loaded = Math.min(all.reduce((sum, f) => sum + f.loaded, 0), size);
  const fraction = loaded / size;
  const text = `${(loaded / MB).toFixed(1)} of ${(size / MB).toFixed(1)} MB (${Math.floor(fraction * 100)}%)`;
  return { fraction, text, loaded, size };
}

// stage(key, label, progress) reports progress (`progress`: {fraction, text} within the
// stage, while the runtime downloads). Returns at once {client, started}: the protocol client
// (every request goes through it, see protocol.js), which takes requests before the worker is
// up and runs them once it is, after loading NumPy and the bundled model; `started`
// resolves to the example list, the catalogue and the model's id once the model is loaded, or
// rejects (AnswerError if the model cannot be loaded). `needModel: false` skips NumPy
// and the model; `after` (a promise) holds the worker's start until it settles.
export function startClient(stage, { needModel = true, after = null } = {}) {
  stage("runtime", "Starting the Python runtime");
  // runtime-progress.js, running in the worker, posts the download's bytes on this channel.
  // Its id goes in the module's hash, not its query: the hash is never sent, so the page and
  // the service worker's precache ask for the same URL and the HTTP cache serves the second.
  const id = Math.random().toString(36).slice(2);
  const channel = new BroadcastChannel(`cnnlens-boot-${id}`);
  let done = false;
  channel.onmessage = (event) => {
    const progress = downloaded(event.data.files);
    if (done || !progress) return;
    if (progress.fraction < 1) stage("runtime", "Downloading the Python runtime", progress);
    else stage("runtime", "Starting the Python runtime", progress);
  };
  // Under the built site's service worker, Python is restored from its snapshot if it keeps
  // one (snapshot.js); the service worker answers 404 at once when it has none yet.
  const snapshot = navigator.serviceWorker?.controller
    ? `&snapshot=${encodeURIComponent(here(SNAPSHOT))}` : "";
  const worker = Promise.resolve(after).then(() => import(PYSCRIPT)).then(({ PyWorker }) => PyWorker(here("py/worker.py"), {
    config: here("assets/pyscript.json"),
    version: here(`assets/js/runtime-progress.js#boot=${id}${snapshot}`),
    async: true,
  })).finally(() => {
    done = true;
    channel.close();
  });
  const client = new Client(worker.then((w) => w.sync));
  if (!needModel) return { client, started: worker.then(() => ({ examples: [], catalogue: [], model: null })) };
  // Queued now, so that they run before anything the reader asks meanwhile.
  const packages = client.ask("load_packages");
  const model = client.ask("start", here("./"));
  worker.then(() => stage("packages", "Loading NumPy"), () => {});
  packages.then(() => stage("model", "Loading the model"), () => {});
  // catalogue: the models the page offers; model: the id of the one loaded (protocol.js's Started).
  const started = Promise.all([worker, packages, model]).then(([, , answer]) => (
    { examples: answer.examples, catalogue: answer.catalogue, model: answer.model }));
  return { client, started };
}

// startClient, resolving once the model is loaded: {client, examples, catalogue, model}.
export async function startPython(stage, options = {}) {
  const { client, started } = startClient(stage, options);
  return { client, ...(await started) };
}
