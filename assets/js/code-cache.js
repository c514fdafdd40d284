// V8's code cache for the release's module scripts, made during the first visit so that the
// second one starts from it. Chrome keeps a compiled script beside its entry in the service
// worker's cache, but only from a script's second compilation from there, to be used from the
// third; it compiles at precaching time only what it takes for classic scripts, and all of
// ours are modules. So the first warm visit compiled everything again (pyodide.asm.js, the
// page's modules, PyScript's chunks): measured in a trace, ~0.35 s of compiling and caching
// that a later visit does not do. A throwaway worker importing each module once more, after
// the release is precached, makes that second compilation. Its evaluation in a worker stops
// at the first use of the DOM, which is harmless: the cache is made all the same.
import { ask } from "./service-worker-messages.js";

const IMPORTER = new URL("./code-cache-worker.js", import.meta.url);
// Not to be evaluated as modules: the host pages' resizer is a classic script, the snapshot
// maker would boot Python, and the importer is the worker itself.
const SKIP = ["assets/embed.js", "assets/js/snapshot-maker.js", "assets/js/code-cache-worker.js"];

function importAll(urls) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(IMPORTER, { type: "module" });
    worker.onmessage = ({ data }) => { worker.terminate(); resolve(data); };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message || "the code cache worker could not start"));
    };
    worker.postMessage(urls);
  });
}

// How many scripts were compiled once more (their code cache made); rejects with why not.
export async function warmCodeCache(serviceWorker) {
  const scripts = await ask(serviceWorker, "scripts");
  const urls = scripts.filter((url) => !SKIP.some((path) => url.endsWith(`/${path}`)));
  return importAll(urls);
}
