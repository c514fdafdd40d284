// Starts Python: a PyScript worker running py/worker.py on our vendored Pyodide, with the
// packages we ship and the bundled model. Shared by the app (app.js) and embeds (embed.js).
import { PyWorker } from "../../build/vendor/pyscript/core.js";

const here = (path) => new URL(path, document.baseURI).href;

// stage(key, label) reports progress; resolves to the worker's exported functions and the
// example list once the model is loaded. `needModel: false` skips NumPy, Pillow and the model.
export async function startPython(stage, { needModel = true } = {}) {
  stage("runtime", "Starting the Python runtime");
  const worker = await PyWorker(here("py/worker.py"), {
    config: here("assets/pyscript.json"),
    version: here("build/vendor/pyodide/pyodide.mjs"),
    async: true,
  });
  const python = worker.sync;
  if (!needModel) return { python, examples: [] };
  stage("packages", "Loading NumPy and Pillow");
  await python.load_packages();
  stage("model", "Loading the model");
  const started = await python.start(here("./"));
  if (started.error !== undefined) throw new Error(started.error);
  return { python, examples: JSON.parse(started.examples) };
}
