// bench/webgpu.html: per-layer and total forward times, NumPy vs WebGPU, for a few models,
// measured by cnnlens's own worker (its `time_backend` request, the engine's backends), so a
// real GPU's figures are the page's. The table goes on screen, and as JSON into
// [data-testid="webgpu-results"] (data-state="done"), which bench/webgpu.py reads.
import { startPython } from "../assets/js/runtime.js";
import { REQUESTS } from "../assets/js/protocol.js";

const params = new URLSearchParams(location.search);
const MODELS = (params.get("models") || "fashion-mnist,resnet18,vgg16").split(",").filter(Boolean);
const REPEATS = Math.max(1, Number(params.get("repeats")) || 5);
const BACKENDS = ["numpy", "webgpu"];

const status = document.getElementById("status");
const tables = document.getElementById("tables");
const output = document.querySelector('[data-testid="webgpu-results"]');
const adapter = document.getElementById("adapter");

const median = (values) => {
  if (!values?.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const element = (tag, props = {}, children = []) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

const ms = (value) => (value === null || value === undefined ? "—" : value.toFixed(value < 10 ? 2 : 1));
const ratio = (numpy, webgpu) => (numpy && webgpu ? `${(numpy / webgpu).toPrecision(2)}×` : "—");
const SWIFTSHADER = "This adapter is SwiftShader, WebGPU run on the CPU: these figures show that the path runs end to end, nothing about what a GPU buys.";

// One model: open it, then time it on each backend. Every failure is kept as its message.
async function measure(client, id, names) {
  const result = { id, name: names.get(id) || id };
  try {
    const opened = await client.ask("open_model", id);
    result.input = opened.view?.columns?.[0]?.shape || null;
    result.gpu = opened.backend?.gpu ?? null;
  } catch (error) {
    return { ...result, error: `could not open: ${error.message}` };
  }
  for (const backend of BACKENDS) {
    status.textContent = `${result.name}: ${REPEATS} forward passes on ${backend === "numpy" ? "NumPy" : "WebGPU"}…`;
    if (!REQUESTS.time_backend) {
      result[backend] = { pending: "the worker has no time_backend request yet" };
      continue;
    }
    try {
      // The first pass compiles the GPU's kernels (and warms NumPy's caches): timed apart.
      const first = await client.ask("time_backend", backend, 1);
      const times = await client.ask("time_backend", backend, REPEATS);
      result[backend] = { ran: times.backend, note: times.note, first_pass_ms: first.total_ms[0],
                          total_ms: times.total_ms, total_median_ms: median(times.total_ms),
                          layers: times.layers };
    } catch (error) {
      result[backend] = { error: error.message };
    }
  }
  return result;
}

// Per-layer rows: every node of either pass, its backend on the WebGPU side, both medians.
function rows(result) {
  const byNode = new Map();
  for (const backend of BACKENDS) {
    for (const layer of result[backend]?.layers || []) {
      const row = byNode.get(layer.node) || { node: layer.node, op: layer.op };
      row[`${backend}_ms`] = median(layer.ms);
      if (backend === "webgpu") row.backend = layer.backend;
      byNode.set(layer.node, row);
    }
  }
  return [...byNode.values()];
}

function draw(result) {
  const section = element("section", {}, [element("h2", { textContent: result.name || result.id })]);
  if (result.error) {
    section.append(element("p", { className: "error", textContent: result.error }));
    tables.append(section);
    return;
  }
  for (const backend of BACKENDS) {
    const side = result[backend];
    const said = side.pending || side.error || side.note;
    if (said) section.append(element("p", { className: side.error ? "error" : "note", textContent: `${backend === "numpy" ? "NumPy" : "WebGPU"}: ${said}` }));
  }
  const head = ["layer", "op", "WebGPU ran on", "NumPy ms", "WebGPU ms", "speed-up"]
    .map((text) => element("th", { textContent: text, scope: "col" }));
  const body = result.layers.map((row) => element("tr", {}, [
    element("td", { textContent: row.node }), element("td", { textContent: row.op }),
    element("td", { textContent: row.backend || "—", className: row.backend === "WebGPU" ? "gpu" : "numpy" }),
    element("td", { textContent: ms(row.numpy_ms) }), element("td", { textContent: ms(row.webgpu_ms) }),
    element("td", { textContent: ratio(row.numpy_ms, row.webgpu_ms) }),
  ]));
  const numpy = result.numpy?.total_median_ms ?? null;
  const webgpu = result.webgpu?.total_median_ms ?? null;
  body.push(element("tr", { className: "total" }, [
    element("td", { textContent: "whole forward pass" }), element("td"),
    element("td", { textContent: result.webgpu?.ran || "—" }),
    element("td", { textContent: ms(numpy) }), element("td", { textContent: ms(webgpu) }),
    element("td", { textContent: ratio(numpy, webgpu) }),
  ]));
  const table = element("table", {}, [element("thead", {}, [element("tr", {}, head)]), element("tbody", {}, body)]);
  section.append(element("div", { className: "scroll" }, [table]));
  tables.append(section);
}

async function main() {
  const results = { date: new Date().toISOString(), user_agent: navigator.userAgent, repeats: REPEATS, gpu: null, models: {} };
  try {
    const { client, catalogue } = await startPython((_key, label) => { status.textContent = `${label}…`; });
    const names = new Map(catalogue.map((entry) => [entry.id, entry.name]));
    for (const id of MODELS) {
      const result = await measure(client, id, names);
      if (result.gpu && !results.gpu) {
        results.gpu = result.gpu;
        adapter.textContent = `WebGPU adapter: ${result.gpu}. ${/swiftshader/i.test(result.gpu) ? SWIFTSHADER : ""}`;
      }
      if (!result.error) {
        result.layers = rows(result);
        for (const backend of BACKENDS) delete result[backend]?.layers;
      }
      results.models[id] = result;
      draw(result);
    }
    status.textContent = `Done: ${MODELS.length} models, medians of ${REPEATS} passes.`;
  } catch (error) {
    results.error = String(error.message || error);
    status.textContent = `Stopped: ${results.error}`;
  }
  output.textContent = JSON.stringify(results, null, 1);
  output.dataset.state = "done";
}

main();
