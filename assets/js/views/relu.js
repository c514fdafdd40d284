// The ReLU view (cnnlens/views/relu.py): input map → output map, max(0, x) for the pixel
// under the pointer, and the ReLU curve with that value marked.
import { cellAt, el, fmt, mapWithOverlay, note, num, rect, valueTips } from "./common.js";

const NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  Object.entries(attrs).forEach(([k, val]) => node.setAttribute(k, val));
  return node;
}

export function reluView(data) {
  const v = data.view;
  const [h, w] = data.shape("input");
  const r = v.range || 1;
  const root = el("div", { class: "view relu-view" });
  const input = mapWithOverlay(data.canvas("input", [], { class: "map" }), 168);
  const output = mapWithOverlay(data.canvas("output", [], { class: "map" }), 168);
  const plot = svgEl("svg", { viewBox: "-1.1 -1.1 2.2 2.2", class: "relu-plot", role: "img", "aria-label": "the ReLU function: zero for negative inputs, the input itself otherwise" });
  plot.append(svgEl("line", { x1: -1, y1: 0, x2: 1, y2: 0, class: "axis" }), svgEl("line", { x1: 0, y1: -1, x2: 0, y2: 1, class: "axis" }),
    svgEl("polyline", { points: "-1,0 0,0 1,-1", class: "curve" }));
  const dot = svgEl("circle", { r: 0.07, class: "marker" });
  plot.append(dot);
  const formula = el("p", { class: "formula-line" });
  const maps = el("div", { class: "formula-maps" });
  maps.append(input.box, el("span", { class: "op" }, "max(0, x) →"), output.box, plot);
  root.append(el("h3", {}, `${v.input} channel ${v.channel} through ReLU = ${v.layer} channel ${v.channel}`), maps,
    note("Hover over either map to see a pixel's value: negative values become 0, the rest pass unchanged."), formula);

  function show(i, j) {
    const x = data.at("input", i, j);
    const y = data.at("output", i, j);
    for (const m of [input, output]) { m.svg.replaceChildren(); rect(m.svg, [i, j], [1, 1], "window"); }
    dot.setAttribute("cx", String(Math.max(-1, Math.min(1, x / r))));
    dot.setAttribute("cy", String(-Math.max(-1, Math.min(1, y / r))));
    formula.replaceChildren(`pixel (${i}, ${j}): max(0, `, num(x, "span"), ") = ", num(y, "strong"));
    root.dataset.position = `${i},${j}`;
  }
  for (const m of [input, output]) m.box.addEventListener("pointermove", (event) => show(...cellAt(event, m.box.querySelector("canvas"))));
  const tips = valueTips(root);
  tips.show(input.box, ([i, j]) => `${v.input} (${i}, ${j}): ${fmt(data.at("input", i, j))}`);
  tips.show(output.box, ([i, j]) => `${v.layer} (${i}, ${j}): ${fmt(data.at("output", i, j))}`);
  show(Math.floor(h / 2), Math.floor(w / 2));
  return root;
}
