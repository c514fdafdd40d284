// The convolution view (cnnlens/views/conv.py): per input channel the map, its kernel and
// the intermediate result; their sum plus the bias; and the dot product of one window,
// written out in numbers, animated over every output position at the layer's real stride.
import { cellAt, el, mapWithOverlay, num, rect } from "./common.js";

function grid(rows, cols, value, cls) {
  const table = el("div", { class: `grid ${cls}` });
  table.style.gridTemplateColumns = `repeat(${cols}, auto)`;
  for (let a = 0; a < rows; a += 1) for (let b = 0; b < cols; b += 1) table.append(num(value(a, b)));
  return table;
}

export function convView(data, stop) {
  const v = data.view;
  const [cg, kh, kw] = data.shape("kernels");
  const [oh, ow] = v.out;
  const [sy, sx] = v.stride;
  const [dy, dx] = v.dilation;
  const root = el("div", { class: "view conv-view" });
  let row = 0;
  let step = 0;

  // Elastic explanation: one row per input channel, then the sum.
  const rows = el("div", { class: "elastic" });
  rows.append(el("h3", {}, `How channel ${v.channel} of ${v.layer} is computed from ${v.input}`));
  for (let c = 0; c < cg; c += 1) {
    const line = el("div", { class: "elastic-row", "data-row": c });
    const mid = data.canvas("intermediates", [c], { class: "map small", "aria-label": `intermediate result of input channel ${v.input_channels[c]}` });
    mid.addEventListener("pointermove", (event) => { row = c; const [i, j] = cellAt(event, mid); go(i * ow + j); });
    line.append(el("span", { class: "label" }, `${v.input} ${v.input_channels[c]}`),
      data.canvas("inputs", [c], { class: "map small" }), el("span", { class: "op" }, "⊛"),
      data.canvas("kernels", [c], { class: "map kernel" }), el("span", { class: "op" }, "="), mid);
    rows.append(line);
  }
  const total = el("div", { class: "elastic-row total" });
  total.append(el("span", { class: "label" }, "Σ rows"), el("span", { class: "op" }, "+ bias"), num(v.bias),
    el("span", { class: "op" }, "="), data.canvas("output", [], { class: "map small" }));
  rows.append(total);

  // Interactive formula for one window position of one input row.
  const formula = el("div", { class: "formula", "data-steps": String(oh * ow), "data-step": "0" });
  const heading = el("h3");
  const input = mapWithOverlay(data.canvas("inputs", [0], { class: "map" }), 168);
  const output = mapWithOverlay(data.canvas("output", [], { class: "map" }), 168);
  const numbers = el("div", { class: "numbers-row" });
  const play = el("button", { type: "button", class: "play" }, "Play");
  const next = el("button", { type: "button", class: "next" }, "Step");
  const controls = el("div", { class: "controls-row" });
  controls.append(play, next);
  const maps = el("div", { class: "formula-maps" });
  maps.append(input.box, el("span", { class: "op" }, "→"), output.box);
  formula.append(heading, maps, numbers, controls);
  root.append(rows, formula);

  function draw() {
    const i = Math.floor(step / ow);
    const j = step % ow;
    const y = i * sy;
    const x = j * sx;
    const swap = data.canvas("inputs", [row], { class: "map" });
    input.box.querySelector("canvas").replaceWith(swap);
    input.svg.replaceChildren();
    for (let a = 0; a < kh; a += 1) for (let b = 0; b < kw; b += 1) rect(input.svg, [y + a * dy, x + b * dx], [1, 1], "window");
    output.svg.replaceChildren();
    rect(output.svg, [i, j], [1, 1], "window");
    heading.textContent = `Input channel ${v.input_channels[row]}, output position (${i}, ${j}) — step ${step + 1} of ${oh * ow}`;
    const sum = data.at("intermediates", row, i, j);
    let all = 0;
    for (let c = 0; c < cg; c += 1) all += data.at("intermediates", c, i, j);
    numbers.replaceChildren(
      el("div", { class: "part" }, "window"), grid(kh, kw, (a, b) => data.at("inputs", row, y + a * dy, x + b * dx), "window-values"),
      el("div", { class: "op" }, "×"),
      el("div", { class: "part" }, "kernel"), grid(kh, kw, (a, b) => data.at("kernels", row, a, b), "kernel-values"),
      el("div", { class: "op" }, "="),
      el("div", { class: "part" }, "products"), grid(kh, kw, (a, b) => data.at("products", row, i, j, a, b), "products"),
    );
    const sums = el("p", { class: "sums" });
    sums.append("sum of products ", num(sum, "strong"), ` · all ${cg} channels: Σ = `, num(all),
      " + bias ", num(v.bias), " = ", num(data.at("output", i, j), "strong"));
    sums.querySelectorAll(".num")[0].classList.add("sum");
    sums.querySelectorAll(".num")[3].classList.add("out");
    numbers.append(sums);
    formula.dataset.step = String(step);
    formula.dataset.position = `${i},${j}`;
    formula.dataset.row = String(row);
  }

  function go(s) {
    step = ((s % (oh * ow)) + oh * ow) % (oh * ow);
    draw();
  }

  let timer = null;
  const toggle = () => {
    if (timer) { clearInterval(timer); timer = null; play.textContent = "Play"; return; }
    timer = setInterval(() => go(step + 1), 250);
    play.textContent = "Pause";
  };
  play.addEventListener("click", toggle);
  next.addEventListener("click", () => go(step + 1));
  stop(() => timer && clearInterval(timer));
  output.box.addEventListener("pointermove", (event) => {
    const [i, j] = cellAt(event, output.box.querySelector("canvas"));
    go(i * ow + j);
  });
  // Which outputs does an input cell feed? Every window that covers it.
  input.box.addEventListener("pointermove", (event) => {
    const [py, px] = cellAt(event, input.box.querySelector("canvas"));
    output.svg.querySelectorAll(".feeds").forEach((r) => r.remove());
    for (let i = 0; i < oh; i += 1) for (let j = 0; j < ow; j += 1) {
      const ay = py - i * sy;
      const bx = px - j * sx;
      if (ay >= 0 && bx >= 0 && ay % dy === 0 && bx % dx === 0 && ay / dy < kh && bx / dx < kw) rect(output.svg, [i, j], [1, 1], "feeds");
    }
  });
  draw();
  return root;
}

