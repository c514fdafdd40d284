// Starts Python: a PyScript worker running py/worker.py on our vendored Pyodide, with the
// packages we ship and the bundled model. Shared by the app (app.js) and embeds (embed.js).
import { PyWorker } from "../../build/vendor/pyscript/core.js";
import { Client } from "./protocol.js";

const here = (path) => new URL(path, document.baseURI).href;

// stage(key, label) reports progress; resolves to the protocol client (every request goes
// through it, see protocol.js) and the example list once the model is loaded.
// `needModel: false` skips NumPy, Pillow and the model. Throws AnswerError if the model
// cannot be loaded.
export async function startPython(stage, { needModel = true } = {}) {
  stage("runtime", "Starting the Python runtime");
  const worker = await PyWorker(here("py/worker.py"), {
    config: here("assets/pyscript.json"),
    version: here("build/vendor/pyodide/pyodide.mjs"),
    async: true,
  });
  const client = new Client(worker.sync);
  if (!needModel) return { client, examples: [], catalogue: [], model: null };
  stage("packages", "Loading NumPy and Pillow");
  await client.ask("load_packages");
  stage("model", "Loading the model");
  const started = await client.ask("start", here("./"));
  // catalogue: the models the page offers; model: the id of the one loaded (protocol.js's Started).
  return { client, examples: started.examples, catalogue: started.catalogue, model: started.model };
}
