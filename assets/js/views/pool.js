// The pooling view (cnnlens/views/pool.py): the k×k window at the layer's stride, the value
// it keeps (the maximum, or the mean), animated and hoverable like the convolution view.
import { cellAt, el, fmt, mapWithOverlay, note, num, paint, rect, valueTips } from "./common.js";

export function poolView(data, stop) {
  const v = data.view;
  const [oh, ow] = v.out;
  const [kh, kw] = v.kernel;
  const [sy, sx] = v.stride;
  const [dy, dx] = v.dilation;
  const root = el("div", { class: "view pool-view" });
  const formula = el("div", { class: "formula", "data-steps": String(oh * ow), "data-step": "0" });
  const input = mapWithOverlay(data.canvas("input", [], { class: "map" }), 168);
  const output = mapWithOverlay(data.canvas("output", [], { class: "map" }), 168);
  const heading = el("h3");
  const numbers = el("div", { class: "numbers-row" });
  const play = el("button", { type: "button", class: "play" }, "Play");
  const next = el("button", { type: "button", class: "next" }, "Step");
  const maps = el("div", { class: "formula-maps" });
  maps.append(input.box, el("span", { class: "op" }, `${v.op} →`), output.box);
  const controls = el("div", { class: "controls-row" });
  controls.append(play, next);
  const how = v.op === "max" ? "keeps the largest value in the window" : "keeps the mean of the window";
  formula.append(heading, maps, note(`Each output pixel ${how}. Hover over the output to move the window; hover over a map to see its values.`), numbers, controls);
  root.append(el("h3", {}, `${v.kernel.join("×")} ${v.op} pooling, stride ${v.stride.join("×")}: ${v.input} → ${v.layer}, channel ${v.channel}`), formula);
  let step = 0;

  function draw() {
    const i = Math.floor(step / ow);
    const j = step % ow;
    input.svg.replaceChildren();
    output.svg.replaceChildren();
    const pick = v.op === "max" ? data.at("picks", i, j) : -1;
    const cells = el("div", { class: "grid window-values" });
    cells.style.gridTemplateColumns = `repeat(${kw}, auto)`;
    for (let a = 0; a < kh; a += 1) for (let b = 0; b < kw; b += 1) {
      const value = data.at("input", i * sy + a * dy, j * sx + b * dx);
      rect(input.svg, [i * sy + a * dy, j * sx + b * dx], [1, 1], a * kw + b === pick ? "window pick" : "window");
      const [py, px] = [i * sy + a * dy, j * sx + b * dx];
      const cell = Number.isNaN(value) ? el("span", { class: "num pad" }, "pad") : paint(num(value), data.rgb("input", py, px));
      if (a * kw + b === pick) cell.classList.add("pick");
      cells.append(cell);
    }
    rect(output.svg, [i, j], [1, 1], "window");
    heading.textContent = `Output position (${i}, ${j}) — step ${step + 1} of ${oh * ow}`;
    const result = el("p", { class: "sums" });
    result.append(`${v.op} of the window = `, num(data.at("output", i, j), "strong"));
    result.querySelector(".num").classList.add("out");
    numbers.replaceChildren(cells, result);
    formula.dataset.step = String(step);
    formula.dataset.position = `${i},${j}`;
  }
  const go = (s) => { step = ((s % (oh * ow)) + oh * ow) % (oh * ow); draw(); };
  let timer = null;
  play.addEventListener("click", () => {
    if (timer) { clearInterval(timer); timer = null; play.textContent = "Play"; return; }
    timer = setInterval(() => go(step + 1), 300);
    play.textContent = "Pause";
  });
  next.addEventListener("click", () => go(step + 1));
  stop(() => timer && clearInterval(timer));
  output.box.addEventListener("pointermove", (event) => {
    const [i, j] = cellAt(event, output.box.querySelector("canvas"));
    go(i * ow + j);
  });
  const tips = valueTips(root);
  const [pt, pl] = v.pads[0];
  tips.show(input.box, ([y, x]) => {
    const value = data.at("input", y, x);
    return Number.isNaN(value) ? "padding: no value, never picked" : `${v.input} (${y - pt}, ${x - pl}): ${fmt(value)}`;
  });
  tips.show(output.box, ([i, j]) => `${v.layer} (${i}, ${j}): ${fmt(data.at("output", i, j))}`);
  draw();
  return root;
}
