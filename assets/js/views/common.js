// Shared by the detail views: reading the arrays and images Python packed
// (cnnlens/views/bundle.py), and small DOM helpers. Values are only looked up, never computed.

export function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;  // always text, never HTML
  return node;
}

export function fmt(x) {
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  return abs >= 1000 || abs < 0.001 ? x.toExponential(2) : x.toPrecision(3);
}

// A short annotation written into a diagram (styled in detail.css).
export function note(text, cls = "") {
  return el("p", { class: `note ${cls}`.trim() }, text);
}

// A number shown in the page, carrying its full value for readers and tests.
export function num(x, tag = "span") {
  return el(tag, { class: "num", "data-value": String(x) }, fmt(x));
}

// A colour legend (cnnlens.views.colormap.legend): the scale's colours as a bar, its ends'
// values below; `zero` adds a 0 in the middle for a scale centred on zero.
export function legend(spec, caption, { zero = false } = {}) {
  const box = el("div", { class: zero ? "legend with-zero" : "legend", role: "img", "aria-label": `${caption}: colour scale from ${fmt(spec.min)} to ${fmt(spec.max)}` });
  const bar = el("span", { class: "legend-bar" });
  bar.style.background = `linear-gradient(to right, ${spec.colors.join(", ")})`;
  box.append(bar, el("span", { class: "legend-min" }, fmt(spec.min)));
  if (zero) box.append(el("span", { class: "legend-zero" }, "0"));
  box.append(el("span", { class: "legend-max" }, fmt(spec.max)));
  return box;
}

function asFloats(buffer) {
  return buffer instanceof Float32Array ? buffer : new Float32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4);
}

// A DetailAnswer as protocol.js decodes it (the view already parsed).
export class Packed {
  constructor(answer) {
    this.view = answer.view;
    this.numbers = asFloats(answer.numbers);
    this.rasters = answer.rasters;
  }

  shape(name) {
    return this.view.arrays[name].shape;
  }

  // The value at a multi-index of a named array.
  at(name, ...index) {
    const { offset, shape } = this.view.arrays[name];
    let flat = 0;
    for (let i = 0; i < shape.length; i += 1) flat = flat * shape[i] + index[i];
    return this.numbers[offset + flat];
  }

  // A named array as Python sent it: {shape, values} (a view of the numbers, not a copy).
  array(name) {
    const { offset, shape } = this.view.arrays[name];
    return { shape, values: this.numbers.subarray(offset, offset + shape.reduce((a, b) => a * b, 1)) };
  }

  // One image (picked by its leading indices) as ImageData at its native size.
  imageData(name, lead = []) {
    const { offset, shape } = this.view.images[name];
    const [h, w] = shape.slice(-2);
    let index = 0;
    lead.forEach((k, i) => { index = index * shape[i] + k; });
    const pixels = new Uint8ClampedArray(this.rasters.buffer, this.rasters.byteOffset + offset + index * w * h * 4, w * h * 4);
    return new ImageData(pixels, w, h);
  }

  // One image (picked by its leading indices) as a canvas at its native size.
  canvas(name, lead = [], attrs = {}) {
    const image = this.imageData(name, lead);
    const canvas = el("canvas", { width: image.width, height: image.height, class: "map", ...attrs });
    canvas.getContext("2d").putImageData(image, 0, 0);
    return canvas;
  }

  // The colour [r, g, b] Python gave one pixel of a named image (a multi-index, as `at`).
  rgb(name, ...index) {
    const { offset, shape } = this.view.images[name];
    let flat = 0;
    for (let i = 0; i < shape.length; i += 1) flat = flat * shape[i] + index[i];
    const at = this.rasters.byteOffset + offset + flat * 4;
    return [...new Uint8Array(this.rasters.buffer, at, 3)];
  }
}

// Colours a number's box with its map colour; dark colours get light text (contrast).
export function paint(node, [r, g, b]) {
  node.style.backgroundColor = `rgb(${r}, ${g}, ${b})`;
  node.classList.toggle("on-dark", 0.299 * r + 0.587 * g + 0.114 * b < 140);
  return node;
}

// One tooltip per view (inside `root`, so it goes when the view goes) with the value under
// the pointer. `show(target, words)`: while the pointer is over `target` (a canvas, or a
// box holding one), `words([row, col])` says what is there (null: nothing to say).
export function valueTips(root) {
  const tip = el("div", { class: "value-tip", "aria-hidden": "true" });
  tip.hidden = true;
  root.append(tip);
  const hide = () => { tip.hidden = true; };
  const show = (target, words) => {
    target.addEventListener("pointermove", (event) => {
      const canvas = target instanceof HTMLCanvasElement ? target : target.querySelector("canvas");
      const text = words(cellAt(event, canvas));
      if (text === null) { hide(); return; }
      tip.textContent = text;
      tip.hidden = false;
      const box = root.getBoundingClientRect();
      const x = Math.min(event.clientX - box.left + 14, box.width - tip.offsetWidth);
      tip.style.left = `${Math.max(0, x)}px`;
      tip.style.top = `${event.clientY - box.top + 16}px`;
    });
    for (const name of ["pointerleave", "pointercancel"]) target.addEventListener(name, hide);
  };
  return { show, hide, tip };
}

// Where a pointer is over a map canvas, in cells.
export function cellAt(event, canvas) {
  const r = canvas.getBoundingClientRect();
  const x = Math.floor(((event.clientX - r.left) / r.width) * canvas.width);
  const y = Math.floor(((event.clientY - r.top) / r.height) * canvas.height);
  return [Math.min(Math.max(y, 0), canvas.height - 1), Math.min(Math.max(x, 0), canvas.width - 1)];
}

// A map with an overlay for highlighting cells: a wrapper holding the canvas and an SVG.
export function mapWithOverlay(canvas, size) {
  const box = el("div", { class: "map-box" });
  box.style.width = `${size}px`;
  box.style.height = `${(size * canvas.height) / canvas.width}px`;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${canvas.width} ${canvas.height}`);
  svg.setAttribute("class", "overlay");
  svg.setAttribute("aria-hidden", "true");
  box.append(canvas, svg);
  return { box, svg };
}

export function rect(svg, [y, x], [h, w], cls) {
  const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  Object.entries({ x, y, width: w, height: h, class: cls }).forEach(([k, v]) => r.setAttribute(k, v));
  svg.append(r);
  return r;
}

// One paper of a method's "about" text ({authors, year, title, url}) as a list item.
export function paper(p) {
  const item = el("li");
  const cite = el("cite");
  cite.append(el("a", { href: p.url, target: "_blank", rel: "noopener" }, p.title));
  item.append(`${p.authors} (${p.year}). `, cite, ".");
  return item;
}

// A method's "about" text ({title, text, papers}) as its heading, paragraph and paper list.
export function aboutParts(about) {
  const papers = el("ul", { class: "method-papers" });
  papers.append(...about.papers.map(paper));
  return [el("h4", {}, about.title), el("p", { class: "method-text" }, about.text), papers];
}
