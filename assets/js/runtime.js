// Starts Python: a PyScript worker running py/worker.py on our vendored Pyodide, with the
// packages we ship and the bundled model. Shared by the app (app.js) and embeds (embed.js).
import { PyWorker } from "../../build/vendor/pyscript/core.js";
import { Client } from "./protocol.js";

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
// stage, while the runtime downloads); resolves to the protocol client (every request goes
// through it, see protocol.js) and the example list once the model is loaded.
// `needModel: false` skips NumPy, Pillow and the model. Throws AnswerError if the model
// cannot be loaded.
export async function startPython(stage, { needModel = true } = {}) {
  stage("runtime", "Starting the Python runtime");
  // runtime-progress.js, running in the worker, posts the download's bytes on this channel.
  const id = Math.random().toString(36).slice(2);
  const channel = new BroadcastChannel(`cnnlens-boot-${id}`);
  let done = false;
  channel.onmessage = (event) => {
    const progress = downloaded(event.data.files);
    if (done || !progress) return;
    if (progress.fraction < 1) stage("runtime", "Downloading the Python runtime", progress);
    else stage("runtime", "Starting the Python runtime", progress);
  };
  let worker;
  try {
    worker = await PyWorker(here("py/worker.py"), {
      config: here("assets/pyscript.json"),
      version: here(`assets/js/runtime-progress.js?boot=${id}`),
      async: true,
    });
  } finally {
    done = true;
    channel.close();
  }
  const client = new Client(worker.sync);
  if (!needModel) return { client, examples: [], catalogue: [], model: null };
  stage("packages", "Loading NumPy and Pillow");
  await client.ask("load_packages");
  stage("model", "Loading the model");
  const started = await client.ask("start", here("./"));
  // catalogue: the models the page offers; model: the id of the one loaded (protocol.js's Started).
  return { client, examples: started.examples, catalogue: started.catalogue, model: started.model };
}
