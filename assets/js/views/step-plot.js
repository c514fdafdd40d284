// A value per step of a long-running job (views/maximize.js: the target's value,
// views/invert.js: the loss): one line per picture on one scale, the value axis on the
// left and the steps below, redrawn after every chunk.
import { el, fmt } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export class StepPlot {
  // caption(values, n, goal, last): the words under the plot (also its accessible name).
  constructor({ caption }) {
    this.describe = caption;
    this.width = 300;
    this.height = 130;
    this.left = 40;  // room for the value labels
    this.bottom = 16;  // and for the step labels
    this.root = el("figure", { class: "maximize-plot" });
    this.svg = svg("svg", { viewBox: `0 0 ${this.width} ${this.height}`, role: "img" });
    const [x0, y0] = [this.left, this.height - this.bottom];
    this.svg.append(svg("path", { class: "axis", d: `M${x0} 2V${y0}H${this.width - 2}` }));
    this.labels = {
      high: svg("text", { x: x0 - 4, y: 10, "text-anchor": "end" }),
      low: svg("text", { x: x0 - 4, y: y0, "text-anchor": "end" }),
      start: svg("text", { x: x0, y: this.height - 3, "text-anchor": "start" }, "0"),
      end: svg("text", { x: this.width - 2, y: this.height - 3, "text-anchor": "end" }),
      axis: svg("text", { x: (x0 + this.width) / 2, y: this.height - 3, "text-anchor": "middle" }, "step"),
    };
    this.lines = svg("g", { class: "lines" });
    this.svg.append(...Object.values(this.labels), this.lines);
    this.caption = el("figcaption");
    this.root.append(this.svg, this.caption);
  }

  // values: Float32Array (steps + 1) × n, row-major; goal: the last step on the x axis.
  draw(values, n, goal, [low, high]) {
    const rows = values.length / n;
    const span = high > low ? high - low : 1;
    const [x0, y0] = [this.left, this.height - this.bottom];
    const x = (i) => (x0 + (i / Math.max(goal, 1)) * (this.width - 2 - x0)).toFixed(1);
    const y = (v) => (y0 - 2 - ((v - low) / span) * (y0 - 8)).toFixed(1);
    while (this.lines.children.length > n) this.lines.lastChild.remove();
    while (this.lines.children.length < n) this.lines.append(svg("path", { class: n > 1 ? "line faint" : "line" }));
    // A line needs no more points than the plot is wide; the last step is always drawn.
    const stride = Math.max(1, Math.ceil(rows / this.width));
    for (let k = 0; k < n; k += 1) {
      const points = [];
      for (let i = 0; i < rows; i += stride) points.push(`${x(i)} ${y(values[i * n + k])}`);
      if ((rows - 1) % stride !== 0) points.push(`${x(rows - 1)} ${y(values[(rows - 1) * n + k])}`);
      this.lines.children[k].setAttribute("d", `M${points.join("L")}`);
    }
    this.labels.high.textContent = fmt(high);
    this.labels.low.textContent = fmt(low);
    this.labels.end.textContent = String(goal);
    const text = this.describe(values, n, goal, rows - 1);
    this.caption.textContent = text;
    this.svg.setAttribute("aria-label", text);
  }
}
