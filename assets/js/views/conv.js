// The convolution view (cnnlens/views/conv.py): per input channel the map, its kernel and
// the intermediate result; their sum plus the bias; and the dot product of one window,
// written out in numbers. The window is placed by hovering or dragging on the output (or
// with the arrow keys) and animated over every output position at the layer's real stride,
// from one product at a time (the running sum grows, then the channels, then the bias) to
// one window every few frames (the stepping and the window placement are stepper.js, shared
// with the pooling view). Every number is looked up in what Python packed.
import { cellAt, el, fmt, legend, mapWithOverlay, note, num, paint, rect, valueTips } from "./common.js";
import { stepper } from "./stepper.js";

function figure(caption, body, key) {
  const box = el("figure", { class: "cell-figure" });
  box.append(el("figcaption", {}, caption), body, key);
  return box;
}

export function convView(data, stop) {
  const v = data.view;
  const [cg, kh, kw] = data.shape("kernels");
  const [oh, ow] = v.out;
  const [sy, sx] = v.stride;
  const [dy, dx] = v.dilation;
  const [[pt, pl]] = v.pads;
  const taps = kh * kw;
  // One window's beats: each product, then each channel's sum, then the bias.
  const full = taps + cg + 1;
  const root = el("div", { class: "view conv-view" });
  const tips = valueTips(root);
  const cellOf = (event, box) => cellAt(event, box.querySelector("canvas"));
  let row = 0;

  const inputWords = (c) => ([y, x]) => {
    const [iy, ix] = [y - pt, x - pl];
    const [, hp, wp] = data.shape("inputs");
    const inside = iy >= 0 && ix >= 0 && y < hp - v.pads[1][0] && x < wp - v.pads[1][1];
    return inside ? `${v.input} channel ${v.input_channels[c]}, pixel (${iy}, ${ix}): ${fmt(data.at("inputs", c, y, x))}`
      : `padding around ${v.input} channel ${v.input_channels[c]}: 0`;
  };
  const kernelWords = (c) => ([a, b]) => `weight (${a}, ${b}) for ${v.input} ${v.input_channels[c]}: ${fmt(data.at("kernels", c, a, b))}`;
  const midWords = (c) => ([i, j]) => `channel ${v.input_channels[c]}'s window sum at (${i}, ${j}): ${fmt(data.at("intermediates", c, i, j))}`;
  const outWords = ([i, j]) => `${v.layer} channel ${v.channel} at (${i}, ${j}): ${fmt(data.at("output", i, j))}`;

  // Elastic explanation: one row per input channel, with its window sum and the running
  // total over channels at the current position; then the total plus the bias.
  const rows = el("div", { class: "elastic" });
  rows.append(el("h3", {}, `How channel ${v.channel} of ${v.layer} is computed from ${v.input}`),
    note("Slide each kernel over its input channel: every position gives one number of an intermediate map. Pick a row to see its numbers; hover over any map to read its values.", "lead"));
  const head = el("div", { class: "elastic-head", "aria-hidden": "true" });
  head.append(el("span", { class: "label" }, `${v.input} channel`), el("span", { class: "col-map" }, "input"), el("span", { class: "op" }),
    el("span", { class: "col-kernel" }, "kernel"), el("span", { class: "op" }), el("span", { class: "col-map" }, "result"),
    el("span", { class: "col-num" }, "in the window"), el("span", { class: "col-num" }, "total so far"));
  rows.append(head);
  const lines = [];
  for (let c = 0; c < cg; c += 1) {
    const line = el("div", { class: "elastic-row", "data-row": c, "data-input-channel": v.input_channels[c] });
    const pick = el("button", { type: "button", class: "label row-pick", "aria-pressed": "false", "aria-label": `show the numbers of ${v.input} channel ${v.input_channels[c]}` }, String(v.input_channels[c]));
    pick.addEventListener("click", () => { row = c; steps.redraw(); });
    const input = mapWithOverlay(data.canvas("inputs", [c], { class: "map small" }), 56);
    const kernel = mapWithOverlay(data.canvas("kernels", [c], { class: "map kernel" }), 30);
    kernel.box.classList.add("kernel-box");
    const mid = mapWithOverlay(data.canvas("intermediates", [c], { class: "map small", "aria-label": `intermediate result of input channel ${v.input_channels[c]}` }), 56);
    tips.show(input.box, inputWords(c));
    tips.show(kernel.box, kernelWords(c));
    tips.show(mid.box, midWords(c));
    mid.box.addEventListener("pointermove", (event) => {
      const [i, j] = cellOf(event, mid.box);
      row = c;
      steps.place(i, j);
    });
    const here = el("span", { class: "col-num row-sum" });
    const total = el("span", { class: "col-num row-total" });
    line.append(pick, input.box, el("span", { class: "op" }, "⊛"), kernel.box, el("span", { class: "op" }, "="), mid.box, here, total);
    rows.append(line);
    lines.push({ line, pick, input, kernel, mid, here, total });
  }
  const total = el("div", { class: "elastic-row total", "data-output": "" });
  const finalMap = mapWithOverlay(data.canvas("output", [], { class: "map small" }), 56);
  tips.show(finalMap.box, outWords);
  total.append(el("span", { class: "label" }, "Σ rows"), el("span", { class: "op" }, "+ bias"), num(v.bias),
    el("span", { class: "op" }, "="), finalMap.box);
  rows.append(total, note("Add up the intermediate results of every channel, then the bias: that is the output map.", "lead"));

  // Interactive formula for one window position of the picked row.
  const formula = el("div", { class: "formula" });
  const steps = stepper({ formula, out: v.out, beats: full, beat: "product", id: `${v.layer}-${v.channel}`, draw, stop });
  const heading = el("h3");
  const input = mapWithOverlay(data.canvas("inputs", [0], { class: "map" }), 168);
  input.box.dataset.row = "0";
  const output = mapWithOverlay(data.canvas("output", [], { class: "map" }), 168);
  steps.placer(output.box, (i, j) => `Output (${i}, ${j}) = ${fmt(data.at("output", i, j))}`);
  output.box.setAttribute("aria-label", `Output map of ${v.layer} channel ${v.channel}: arrow keys move the window, Home and End jump to the first and last position`);
  tips.show(input.box, (cell) => inputWords(row)(cell));
  tips.show(output.box, outWords);
  const inputCaption = el("figcaption");
  const inFigure = el("figure", { class: "map-figure" });
  inFigure.append(inputCaption, input.box);
  const outFigure = el("figure", { class: "map-figure" });
  outFigure.append(el("figcaption", {}, `${v.layer} ${v.channel}`), output.box);
  const maps = el("div", { class: "formula-maps" });
  maps.append(inFigure, el("span", { class: "op" }, "→"), outFigure,
    note("Hover over or drag on the output, or focus it and press the arrow keys, to move the window.", "aside"));

  const windowBox = el("div", { class: "grid window-values" });
  const kernelBox = el("div", { class: "grid kernel-values" });
  const productBox = el("div", { class: "grid products" });
  for (const box of [windowBox, kernelBox, productBox]) box.style.gridTemplateColumns = `repeat(${kw}, auto)`;
  const numbers = el("div", { class: "numbers-row" });
  numbers.append(figure("window", windowBox, legend(v.legends.input, "input values", { zero: true })), el("span", { class: "op" }, "×"),
    figure("kernel", kernelBox, legend(v.legends.weight, "weights", { zero: true })), el("span", { class: "op" }, "="),
    figure("products", productBox, legend(v.legends.product, "products", { zero: true })));
  const ladder = el("div", { class: "ladder" });
  const ladderBox = el("div", { class: "scroll-x" });
  ladderBox.append(ladder);
  const sums = el("p", { class: "sums" });
  formula.append(heading, maps, note("Multiply each input value in the window by the weight at the same place in the kernel.", "lead"),
    numbers, note("Add the products up, one after another: the running sum.", "lead"), ladderBox, sums, steps.controls);
  root.append(rows, formula);

  function windowRects(svg, y, x, cls = "window") {
    svg.replaceChildren();
    for (let a = 0; a < kh; a += 1) for (let b = 0; b < kw; b += 1) rect(svg, [y + a * dy, x + b * dx], [1, 1], cls);
  }

  function pending() {
    return el("span", { class: "num pending", title: "not added yet" }, "…");
  }

  function draw(i, j, beat) {
    const y = i * sy;
    const x = j * sx;
    const added = Math.min(beat, taps);  // products of the picked row added so far
    const channels = Math.max(0, Math.min(beat - taps, cg));  // channel sums added so far
    const done = beat >= full;
    const tap = beat <= taps ? beat - 1 : -1;  // the product being added now

    lines.forEach(({ line, pick, input: m, kernel, mid, here, total: sofar }, c) => {
      const picked = c === row;
      line.classList.toggle("picked", picked);
      pick.setAttribute("aria-pressed", String(picked));
      windowRects(m.svg, y, x);
      mid.svg.replaceChildren();
      rect(mid.svg, [i, j], [1, 1], "window");
      kernel.svg.replaceChildren();
      if (picked && tap >= 0) rect(kernel.svg, [Math.floor(tap / kw), tap % kw], [1, 1], "tap");
      here.replaceChildren(num(data.at("intermediates", c, i, j)));
      const inSum = c < channels;
      sofar.replaceChildren(inSum ? num(data.at("channel_partials", c, i, j)) : pending());
      line.classList.toggle("adding", beat > taps && c === channels - 1 && !done);
    });
    finalMap.svg.replaceChildren();
    rect(finalMap.svg, [i, j], [1, 1], "window");

    if (Number(input.box.dataset.row) !== row) {  // another row picked: its map
      input.box.querySelector("canvas").replaceWith(data.canvas("inputs", [row], { class: "map" }));
      input.box.dataset.row = String(row);
    }
    windowRects(input.svg, y, x);
    if (tap >= 0) rect(input.svg, [y + Math.floor(tap / kw) * dy, x + (tap % kw) * dx], [1, 1], "tap");
    inputCaption.textContent = `${v.input} ${v.input_channels[row]} (padded)`;
    output.svg.replaceChildren();
    rect(output.svg, [i, j], [1, 1], "window");
    heading.textContent = `Output (${i}, ${j}) from ${v.input} channel ${v.input_channels[row]} — position ${i * ow + j + 1} of ${oh * ow}`;

    const cells = [windowBox, kernelBox, productBox].map((box) => { box.replaceChildren(); return box; });
    for (let a = 0; a < kh; a += 1) for (let b = 0; b < kw; b += 1) {
      const k = a * kw + b;
      const [py, px] = [y + a * dy, x + b * dx];
      const win = paint(num(data.at("inputs", row, py, px)), data.rgb("inputs", row, py, px));
      const ker = paint(num(data.at("kernels", row, a, b)), data.rgb("kernels", row, a, b));
      const pro = paint(num(data.at("products", row, i, j, a, b)), data.rgb("products", row, i, j, a, b));
      const [iy, ix] = [py - pt, px - pl];
      const [, hp, wp] = data.shape("inputs");
      if (iy < 0 || ix < 0 || py >= hp - v.pads[1][0] || px >= wp - v.pads[1][1]) win.classList.add("pad");
      for (const cell of [win, ker, pro]) {
        if (k === tap) cell.classList.add("current");
        else if (k >= added) cell.classList.add("later");
      }
      cells[0].append(win);
      cells[1].append(ker);
      cells[2].append(pro);
    }

    // The running sum of the picked row's products, one box per product.
    ladder.replaceChildren();
    for (let k = 0; k < taps; k += 1) {
      const cell = k < added ? num(data.at("partials", row, i, j, k)) : pending();
      cell.classList.add("partial");
      if (k === tap) cell.classList.add("current");
      ladder.append(el("span", { class: "op" }, k === 0 ? "" : "→"), cell);
    }

    const sum = data.at("intermediates", row, i, j);
    const all = data.at("channel_partials", cg - 1, i, j);
    const sumNode = added === taps ? num(sum, "strong") : pending();
    const allNode = channels === cg ? num(all) : pending();
    const outNode = done ? num(data.at("output", i, j), "strong") : pending();
    if (added === taps) sumNode.classList.add("sum");
    if (done) outNode.classList.add("out");
    sums.replaceChildren("sum of the products ", sumNode, ` · add all ${cg} channels: Σ = `, allNode,
      " + bias ", num(v.bias), " = ", outNode);

    formula.dataset.row = String(row);
  }

  // Which outputs does an input cell feed? Every window that covers it.
  input.box.addEventListener("pointermove", (event) => {
    const [py, px] = cellOf(event, input.box);
    output.svg.querySelectorAll(".feeds").forEach((r) => r.remove());
    for (let i = 0; i < oh; i += 1) for (let j = 0; j < ow; j += 1) {
      const ay = py - i * sy;
      const bx = px - j * sx;
      if (ay >= 0 && bx >= 0 && ay % dy === 0 && bx % dx === 0 && ay / dy < kh && bx / dx < kw) rect(output.svg, [i, j], [1, 1], "feeds");
    }
  });

  steps.begin();
  return root;
}
