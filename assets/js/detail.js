// The detail panel for one selected neuron: the view for its layer kind (convolution,
// ReLU, pooling, flatten + softmax for a class), or its plain numbers for anything else.
import { el, fmt, Packed } from "./views/common.js";
import { convView } from "./views/conv.js";
import { flattenView, softmaxView } from "./views/flatten.js";
import { poolView } from "./views/pool.js";
import { reluView } from "./views/relu.js";

let cleanups = [];

// The open view's root carries data-testid="detail" (with data-layer, data-channel and
// data-kind of what it shows) for automation; a closed one carries none.
function opened(panel) {
  panel.dataset.testid = "detail";
  panel.hidden = false;
}

// Hides the panel (its closing transition, where motion is allowed, is the stylesheet's).
export function hideDetail(panel) {
  stopDetail();
  delete panel.dataset.testid;
  panel.hidden = true;
}

// Stops whatever the open view animates (called before another view replaces it).
export function stopDetail() {
  cleanups.forEach((f) => f());
  cleanups = [];
}


function numbers(rows) {
  const table = el("dl", { class: "numbers" });
  for (const [name, value] of rows) table.append(el("dt", {}, name), el("dd", {}, value));
  return table;
}

function enlarged(source) {
  const canvas = el("canvas", { class: "enlarged", width: source.width, height: source.height, "aria-hidden": "true" });
  canvas.getContext("2d").drawImage(source, 0, 0);
  return canvas;
}


const VIEWS = {
  conv: (packed, stop) => [convView(packed, stop)],
  relu: (packed) => [reluView(packed)],
  pool: (packed, stop) => [poolView(packed, stop)],
  flatten: (packed) => [flattenView(packed), softmaxView(packed.view.softmax, packed.view.channel)],
};

export function showDetail(panel, answer, source) {
  stopDetail();
  const packed = new Packed(answer);
  const view = packed.view;
  const build = VIEWS[view.kind];
  if (!build) {
    showNumbers(panel, view, source);
    return;
  }
  const titles = { conv: "convolution", relu: "ReLU", pool: "pooling", flatten: "flatten and output" };
  panel.querySelector("#detail-title").textContent = view.kind === "flatten"
    ? `${view.layer} · class ${view.channel}: ${view.name} (${titles.flatten})`
    : `${view.layer} · channel ${view.channel} (${titles[view.kind]})`;
  panel.querySelector(".detail-body").replaceChildren(...build(packed, (f) => cleanups.push(f)));
  panel.dataset.layer = view.layer;
  panel.dataset.channel = String(view.channel);
  panel.dataset.kind = view.kind;
  opened(panel);
}

function showNumbers(panel, data, source) {
  const body = panel.querySelector(".detail-body");
  const title = panel.querySelector("#detail-title");
  if (data.kind === "output") {
    title.textContent = `${data.layer} · class ${data.channel}: ${data.name}`;
    body.replaceChildren(numbers([["logit", fmt(data.logit)], ["probability", `${(data.probability * 100).toFixed(2)}%`]]));
  } else {
    title.textContent = `${data.layer} · channel ${data.channel} (${data.kind})`;
    const parts = [];
    if (source) parts.push(enlarged(source));
    parts.push(numbers([
      ["size", data.shape.join(" × ")], ["min", fmt(data.min)], ["max", fmt(data.max)],
      ["mean", fmt(data.mean)], ["std", fmt(data.std)],
    ]));
    body.replaceChildren(...parts);
  }
  panel.dataset.layer = data.layer;
  panel.dataset.channel = String(data.channel);
  panel.dataset.kind = "neuron";
  opened(panel);
}
