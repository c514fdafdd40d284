// The flatten-and-output view (cnnlens/views/flatten.py) and the softmax view
// (cnnlens/views/softmax.py), opened by clicking a class.
import { cellAt, el, fmt, mapWithOverlay, note, num, rect, valueTips } from "./common.js";

export function flattenView(data) {
  const v = data.view;
  const [c, h, w] = data.shape("maps");
  const n = c * h * w;
  const root = el("div", { class: "view flatten-view" });
  root.append(el("h3", {}, `${v.maps_name} (${c} × ${h} × ${w}) flattened into ${n} numbers, weighted into the logit of “${v.name}”`));
  const maps = el("div", { class: "flatten-maps" });
  const overlays = [];
  for (let k = 0; k < c; k += 1) {
    const m = mapWithOverlay(data.canvas("maps", [k], { class: "map" }), 56);
    m.box.title = `channel ${k}: elements ${v.ranges[k][0]}–${v.ranges[k][1]}`;
    overlays.push(m);
    const box = el("figure", { class: "flatten-channel" });
    box.append(m.box, el("figcaption", {}, `${v.ranges[k][0]}–${v.ranges[k][1]}`));
    maps.append(box);
  }
  const strip = (name, label) => {
    const canvas = data.canvas(name, [0], { class: "strip", "aria-label": label });
    return canvas;
  };
  const vector = strip("vector", "the flattened vector");
  const weights = strip("weights", `the weights into ${v.name}`);
  const readout = el("p", { class: "formula-line" });
  const sums = el("p", { class: "sums" });
  let total = 0;
  for (let e = 0; e < n; e += 1) total += data.at("contributions", e);
  sums.append(`Σ vector × weights = `, num(total), " + bias ", num(v.bias), " = logit ", num(v.logit, "strong"));
  root.append(maps, note("Lay the maps out in one row, channel after channel; hover over the strips to follow one number."),
    el("div", { class: "strip-label" }, "flattened vector"), vector,
    el("div", { class: "strip-label" }, `weights into “${v.name}”`), weights, readout, sums);

  function show(e) {
    const k = Math.floor(e / (h * w));
    const i = Math.floor((e % (h * w)) / w);
    const j = e % w;
    overlays.forEach((m) => m.svg.replaceChildren());
    rect(overlays[k].svg, [i, j], [1, 1], "window");
    readout.replaceChildren(`element ${e} = channel ${k}, pixel (${i}, ${j}): `, num(data.at("vector", e)),
      " × weight ", num(data.at("weights", e)), " = ", num(data.at("contributions", e)));
    root.dataset.element = String(e);
  }
  for (const s of [vector, weights]) {
    s.addEventListener("pointermove", (event) => show(cellAt(event, s)[1]));
  }
  const tips = valueTips(root);
  overlays.forEach((m, k) => tips.show(m.box, ([i, j]) => `channel ${k}, pixel (${i}, ${j}) = element ${k * h * w + i * w + j}: ${fmt(data.at("maps", k, i, j))}`));
  tips.show(vector, ([, e]) => `element ${e}: ${fmt(data.at("vector", e))}`);
  tips.show(weights, ([, e]) => `weight ${e} into “${v.name}”: ${fmt(data.at("weights", e))}`);
  show(0);
  return root;
}

export function softmaxView(soft, chosen) {
  const root = el("div", { class: "view softmax-view" });
  root.append(el("h3", {}, "Softmax: from logits to probabilities"));
  const table = el("table", { class: "softmax" });
  const head = el("tr");
  ["class", "logit z", "exp(z − m)", "exp(z − m) / Σ exp(z − m)", "probability"].forEach((t) => head.append(el("th", { scope: "col" }, t)));
  table.append(head);
  for (const cls of soft.classes) {
    const row = el("tr", { "data-class": cls.index, class: cls.index === chosen ? "chosen" : "" });
    const cell = (node) => { const td = el("td"); td.append(node); return td; };
    const division = el("span");
    division.append(num(cls.exp), " / ", num(soft.total));
    row.append(el("th", { scope: "row" }, cls.name), cell(num(cls.logit)), cell(num(cls.exp)), cell(division),
      cell(el("span", { class: "num probability", "data-value": String(cls.probability) }, `${(cls.probability * 100).toFixed(2)}%`)));
    table.append(row);
  }
  // Python subtracts the largest logit m before exp (views/softmax.py): the ratios are the
  // same, and no exp overflows.
  const shift = el("p", { class: "shift" });
  shift.append("m = max z = ", num(soft.max), ", subtracted first so that no exp overflows; it divides out, leaving the probabilities unchanged.");
  const total = el("p", { class: "sums" });
  total.append("Σ exp(z − m) = ", num(soft.total));
  const scroller = el("div", { class: "table-scroll" });
  scroller.append(table);
  root.append(shift, scroller, total);
  return root;
}
