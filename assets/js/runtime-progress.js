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

export async function loadPyodide(options = {}) {
  const id = new URLSearchParams(new URL(import.meta.url).hash.slice(1)).get("boot");
  const stops = [timeWasm()];
  if (id && typeof BroadcastChannel !== "undefined") {
    stops.push(watch(new BroadcastChannel(`cnnlens-boot-${id}`), await knownSizes()));
  }
  try {
    const pyodide = await load({ ...options, indexURL: INDEX_URL });
    performance.mark("cnnlens:runtime:pyodide-ready");
    return pyodide;
  } finally {
    for (const stop of stops) stop();
  }
}
