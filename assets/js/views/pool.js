// The pooling view (cnnlens/views/pool.py): the k×k window at the layer's stride and the
// value it keeps, built up one value at a time (the largest so far, or the sum so far, then
// divided by the count). Stepping, the speed control and placing the window (hover, drag,
// arrow keys on the output) are the convolution view's (stepper.js). Every number is looked
// up in what Python packed.
import { el, fmt, legend, mapWithOverlay, note, num, paint, rect, valueTips } from "./common.js";
import { stepper } from "./stepper.js";

function pending() {
  return el("span", { class: "num pending", title: "not seen yet" }, "…");
}

export function poolView(data, stop) {
  const v = data.view;
  const [oh, ow] = v.out;
  const [kh, kw] = v.kernel;
  const [sy, sx] = v.stride;
  const [dy, dx] = v.dilation;
  const [pt, pl] = v.pads[0];
  const max = v.op === "max";
  const taps = kh * kw;
  // One window's beats: each value, then (average pooling) the division by the count.
  const beats = max ? taps : taps + 1;
  const root = el("div", { class: "view pool-view" });
  const tips = valueTips(root);
  const formula = el("div", { class: "formula" });
  const steps = stepper({ formula, out: v.out, beats, beat: "value", id: `${v.layer}-${v.channel}`, draw, stop });

  const input = mapWithOverlay(data.canvas("input", [], { class: "map" }), 224);
  const output = mapWithOverlay(data.canvas("output", [], { class: "map" }), 168);
  steps.placer(output.box, (i, j) => `Output (${i}, ${j}) = ${fmt(data.at("output", i, j))}`);
  output.box.setAttribute("aria-label", `Output map of ${v.layer} channel ${v.channel}: arrow keys move the window, Home and End jump to the first and last position`);
  const inFigure = el("figure", { class: "map-figure" });
  inFigure.append(el("figcaption", {}, `${v.input} ${v.channel}${v.pads.flat().some((p) => p) ? " (padded)" : ""}`), input.box);
  const outFigure = el("figure", { class: "map-figure" });
  outFigure.append(el("figcaption", {}, `${v.layer} ${v.channel}`), output.box);
  const maps = el("div", { class: "formula-maps" });
  maps.append(inFigure, el("span", { class: "op" }, `${v.op} →`), outFigure,
    note("Hover over or drag on the output, or focus it and press the arrow keys, to move the window.", "aside"));

  const heading = el("h3");
  const windowBox = el("div", { class: "grid window-values" });
  windowBox.style.gridTemplateColumns = `repeat(${kw}, auto)`;
  const windowFigure = el("figure", { class: "cell-figure" });
  windowFigure.append(el("figcaption", {}, "window"), windowBox, legend(v.legend, "input values", { zero: true }));
  const ladder = el("div", { class: "ladder" });
  const ladderFigure = el("figure", { class: "cell-figure ladder-figure" });
  ladderFigure.append(el("figcaption", {}, max ? "largest so far" : "sum so far"), ladder);
  const numbers = el("div", { class: "numbers-row" });
  numbers.append(windowFigure, el("span", { class: "op" }, "→"), ladderFigure);
  const sums = el("p", { class: "sums" });
  const how = max ? "Read the window one value at a time and keep the largest: that is the output value."
    : "Add the window's values up one at a time, then divide by how many the average counts.";
  formula.append(heading, maps, note(how, "lead"), numbers, sums, steps.controls);
  root.append(el("h3", {}, `${v.kernel.join("×")} ${max ? "max" : "average"} pooling, stride ${v.stride.join("×")}: ${v.input} → ${v.layer}, channel ${v.channel}`), formula);

  function draw(i, j, beat) {
    const [y, x] = [i * sy, j * sx];
    const added = Math.min(beat, taps);  // values read so far
    const tap = beat <= taps ? beat - 1 : -1;  // the value being read now
    const done = beat >= beats;
    const pick = max ? data.at("picks", i, j) : -1;
    input.svg.replaceChildren();
    output.svg.replaceChildren();
    windowBox.replaceChildren();
    for (let a = 0; a < kh; a += 1) for (let b = 0; b < kw; b += 1) {
      const k = a * kw + b;
      const [py, px] = [y + a * dy, x + b * dx];
      const value = data.at("input", py, px);
      rect(input.svg, [py, px], [1, 1], done && k === pick ? "window pick" : "window");
      const cell = Number.isNaN(value) ? el("span", { class: "num pad" }, "pad") : paint(num(value), data.rgb("input", py, px));
      if (done && k === pick) cell.classList.add("pick");
      if (k === tap) cell.classList.add("current");
      else if (k >= added) cell.classList.add("later");
      windowBox.append(cell);
    }
    if (tap >= 0) rect(input.svg, [y + Math.floor(tap / kw) * dy, x + (tap % kw) * dx], [1, 1], "tap");
    rect(output.svg, [i, j], [1, 1], "window");
    heading.textContent = `Output (${i}, ${j}) — position ${i * ow + j + 1} of ${oh * ow}`;

    // The running result, one box per value read: NaN (max pooling) while only padding was.
    ladder.replaceChildren();
    for (let k = 0; k < taps; k += 1) {
      const so = k < added ? data.at("running", i, j, k) : null;
      const cell = so === null ? pending() : Number.isNaN(so) ? el("span", { class: "num", title: "only padding so far" }, "—") : num(so);
      cell.classList.add("partial");
      if (k === tap) cell.classList.add("current");
      ladder.append(el("span", { class: "op" }, k === 0 ? "" : "→"), cell);
    }

    const out = done ? num(data.at("output", i, j), "strong") : pending();
    if (done) out.classList.add("out");
    if (max) {
      sums.replaceChildren("largest value in the window = ", out);
    } else {
      const sum = added === taps ? num(data.at("running", i, j, taps - 1)) : pending();
      if (added === taps) sum.classList.add("sum");
      const n = data.at("counts", i, j);  // a whole number: not rounded as values are
      const count = el("span", { class: "num count", "data-value": String(n) }, String(n));
      sums.replaceChildren("sum of the window ", sum, " ÷ ", count, " values = ", out);
    }
  }

  tips.show(input.box, ([py, px]) => {
    const value = data.at("input", py, px);
    const pad = max ? "padding: no value, never the largest" : "padding: adds 0 to the sum";
    return Number.isNaN(value) ? pad : `${v.input} (${py - pt}, ${px - pl}): ${fmt(value)}`;
  });
  tips.show(output.box, ([i, j]) => `${v.layer} (${i}, ${j}): ${fmt(data.at("output", i, j))}`);
  steps.begin();
  return root;
}
