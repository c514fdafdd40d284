// The Python runtime's memory snapshot, for the built site's later visits: after a first
// visit is interactive and its service worker has precached the release, a throwaway worker
// (snapshot-maker.js) boots a bare interpreter once more, takes Pyodide's memory snapshot
// (~21 MB) and hands it to the service worker (sw.template.js), which keeps it in the
// release's cache. Later visits restore Python from it in a fraction of its boot
// (runtime-progress.js, named in its module hash by runtime.js) and boot as usual when the
// restore fails. Binary packages (NumPy) cannot be in a snapshot: they load after it.
import { ask } from "./service-worker-messages.js";

const MAKER = new URL("./snapshot-maker.js", import.meta.url);
// Relative to the service worker's scope, the site's root (sw.template.js's SNAPSHOT).
export const SNAPSHOT = "python-snapshot.bin";

function make() {
  return new Promise((resolve, reject) => {
    const worker = new Worker(MAKER, { type: "module" });
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if (data.snapshot) resolve(data.snapshot);
      else reject(new Error(data.error));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message || "the snapshot worker could not start"));
    };
  });
}

// "kept" (the service worker has one already) or "stored" (made now); rejects with why not.
export async function keepSnapshot(serviceWorker) {
  if (await ask(serviceWorker, { snapshot: "has" }) === true) return "kept";
  const snapshot = await make();
  const answer = await ask(serviceWorker, { snapshot }, [snapshot.buffer]);
  if (answer !== true) throw new Error(String(answer));
  return "stored";
}
