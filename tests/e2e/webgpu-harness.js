// The test's hands on assets/js/gpu/: tensors travel as base64 of float32 bytes, so that
// Python builds the cases and compares the results with the engine's own ops.
import { openGpu } from "../../assets/js/gpu/index.js";

const decode = (text) => new Float32Array(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer);

function encode(values) {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

const tensors = (encoded) => Object.fromEntries(Object.entries(encoded)
  .map(([name, { data, shape }]) => [name, { data: decode(data), shape }]));

let gpu = null;
const lost = [];

window.gpuHarness = {
  async open() {
    gpu = await openGpu();
    gpu?.onLost((info) => lost.push(info));
    return gpu && gpu.label;
  },
  supports: (nodes) => nodes.map((node) => gpu.supports(node)),
  // Each case: {key, weights, nodes, feeds, wanted} → {name: base64} or {error}.
  async run(cases) {
    const results = [];
    for (const { key, weights, nodes, feeds, wanted } of cases) {
      try {
        await gpu.setWeights(key, tensors(weights));
        const out = await gpu.run(key, nodes, tensors(feeds), wanted);
        gpu.dropWeights(key);
        results.push(Object.fromEntries(Object.entries(out).map(([name, v]) => [name, encode(v)])));
      } catch (error) {
        results.push({ error: String(error.message || error) });
      }
    }
    return results;
  },
  destroy() { gpu.device.destroy(); },
  lost: () => lost,
};
document.documentElement.dataset.harness = "ready";
