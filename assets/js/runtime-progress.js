// Runs inside PyScript's worker in place of pyodide.mjs (runtime.js names it as PyScript's
// `version`): the same module, except that loadPyodide reports how many bytes of the
// runtime's big files have arrived, so the page can show "4.2 of 12.8 MB". The page cannot
// see the worker's downloads, and fetching them itself would download them twice wherever
// the HTTP cache is off; so the worker's own fetches are watched, through a clone of each
// response (the original goes on untouched, keeping its URL for WebAssembly's code cache).
// Progress goes out on the BroadcastChannel named by this module's `#boot=` hash (a hash, so
// that the file keeps one URL, the one the service worker precaches).
// It also leaves performance marks on the worker's own timeline (`cnnlens:runtime:module`,
// `:wasm-start`, `:wasm-ready`, `:pyodide-ready`), which bench/boot_split.py reads to split
// the runtime stage into download, wasm compile, Python start and PyScript's own start.
// Where the module's hash names a memory snapshot (`&snapshot=<url>`: the page is controlled
// by the built site's service worker, which keeps one after a first visit, see snapshot.js),
// the interpreter is restored from it instead of booted (`cnnlens:runtime:snapshot-restored`),
// and booted as usual when there is none or the restore fails.
import { loadPyodide as load } from "../../build/vendor/pyodide/pyodide.mjs";

export * from "../../build/vendor/pyodide/pyodide.mjs";

const INDEX_URL = new URL("../../build/vendor/pyodide/", import.meta.url).href;
// Written by build/pyscript_config.py from the vendored files: the totals are known before
// the first byte (a compressing host's Content-Length would count compressed bytes).
const SIZES_URL = new URL("../runtime-sizes.json", import.meta.url).href;
const POST_EVERY_MS = 50;

performance.mark("cnnlens:runtime:module");

async function knownSizes() {
  try {
    const response = await fetch(SIZES_URL);
    return response.ok ? await response.json() : {};
  } catch {
    return {};
  }
}

// `files[name] = {loaded, size}` for every file in `sizes`, posted as they grow.
function watch(channel, sizes) {
  const files = Object.fromEntries(Object.entries(sizes).map(([n, s]) => [n, { loaded: 0, size: s }]));
  let last = 0;
  const post = (force) => {
    const now = performance.now();
    if (!force && now - last < POST_EVERY_MS) return;
    last = now;
    channel.postMessage({ files });
  };
  const count = async (name, response) => {
    const reader = response.clone().body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      files[name].loaded += value.byteLength;
      post(false);
    }
    post(true);
  };
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const response = await original(input, init);
    const name = new URL(response.url || String(input), location.href).pathname.split("/").pop();
    if (name in files && response.ok && response.body) count(name, response).catch(() => {});
    return response;
  };
  post(true);
  return () => { globalThis.fetch = original; };
}

// Marks the first successful instantiation while loadPyodide runs: the interpreter's own
// module (compiled while it streams in); packages' modules come later, after the restore.
function timeWasm() {
  const originals = { instantiate: WebAssembly.instantiate, instantiateStreaming: WebAssembly.instantiateStreaming };
  let marked = false;
  const timed = (original) => async (...args) => {
    if (marked) return original.apply(WebAssembly, args);
    performance.mark("cnnlens:runtime:wasm-start");
    const result = await original.apply(WebAssembly, args);  // a failed streaming try is not marked ready
    if (!marked) performance.mark("cnnlens:runtime:wasm-ready");
    marked = true;
    return result;
  };
  for (const [name, original] of Object.entries(originals)) if (original) WebAssembly[name] = timed(original);
  return () => Object.assign(WebAssembly, originals);
}

// Pyodide 0.27's snapshot header: its magic number, then where the heap starts.
const SNAPSHOT_MAGIC = 1886286592;
const WASM_PAGE = 65536;

// Pyodide checks a snapshot only once its module is made, and making one whose memory is
// too small never settles (no error, no boot): so the header is checked here first.
function plausible(snapshot) {
  if (snapshot.byteLength < 16 || snapshot.byteLength % 4) return false;
  const [magic, heapAt] = new Uint32Array(snapshot.buffer, snapshot.byteOffset, 2);
  const heap = snapshot.byteLength - heapAt;
  return magic === SNAPSHOT_MAGIC && heap >= WASM_PAGE && heap % WASM_PAGE === 0;
}

// The snapshot at `url`'s bytes; rejects with NONE_KEPT where there is none (the service
// worker answers 404 at once until it keeps one).
const NONE_KEPT = new Error("no snapshot kept yet");
async function snapshotAt(url) {
  const response = await fetch(url);
  if (!response.ok) throw NONE_KEPT;
  const snapshot = new Uint8Array(await response.arrayBuffer());
  if (!plausible(snapshot)) throw new Error("not a Pyodide snapshot");
  return snapshot;
}

// The interpreter restored from the snapshot at `url`, or null (none kept, or it failed:
// each loadPyodide makes a new instance, so a normal boot can follow). The snapshot is
// handed over as a promise, which loadPyodide awaits only once it has started fetching the
// runtime's files and evaluated pyodide.asm.js: reading 20 MB from the cache overlaps them.
async function restored(url, options) {
  const snapshot = snapshotAt(url);
  snapshot.catch(() => {});  // handled below, through load(): no "unhandled rejection" meanwhile
  try {
    const pyodide = await load({ ...options, indexURL: INDEX_URL, _loadSnapshot: snapshot });
    // Every restore would otherwise draw the same "random" numbers as the snapshot's maker.
    pyodide.runPython("import random; random.seed()");
    performance.mark("cnnlens:runtime:snapshot-restored");
    return pyodide;
  } catch (error) {
    if (error !== NONE_KEPT) console.warn("cnnlens: booting Python without its snapshot, which failed:", error);
    return null;
  }
}

// Pure-Python stdlib modules the boot imports after the interpreter starts (loading packages,
// NumPy, cnnlens), imported before the snapshot is taken so that a restore has them; nothing
// that holds a JavaScript object (a snapshot cannot), nor binary packages (it cannot either).
const PRELOADED = ["tarfile", "importlib.metadata", "email.message", "csv", "datetime",
  "encodings.cp437", "pickle", "ctypes", "platform", "numbers", "__future__", "dataclasses",
  "hashlib", "json"];

// A memory snapshot of a fresh interpreter (Pyodide's experimental `_makeSnapshot`): the
// instance that makes it cannot be used afterwards, so only a throwaway worker calls this.
export async function makeSnapshot() {
  const pyodide = await load({ indexURL: INDEX_URL, _makeSnapshot: true });
  pyodide.runPython(`import ${PRELOADED.join(", ")}`);
  return pyodide.makeMemorySnapshot();
}

export async function loadPyodide(options = {}) {
  const hash = new URLSearchParams(new URL(import.meta.url).hash.slice(1));
  const id = hash.get("boot");
  const stops = [timeWasm()];
  if (id && typeof BroadcastChannel !== "undefined") {
    stops.push(watch(new BroadcastChannel(`cnnlens-boot-${id}`), await knownSizes()));
  }
  try {
    const snapshot = hash.get("snapshot");
    const pyodide = (snapshot && await restored(snapshot, options))
      || await load({ ...options, indexURL: INDEX_URL });
    performance.mark("cnnlens:runtime:pyodide-ready");
    return pyodide;
  } finally {
    for (const stop of stops) stop();
  }
}
