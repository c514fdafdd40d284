// Draws the overview view-model that Python computed (cnnlens/views/overview.py) and
// handles pointing at it: hover lights a tile's incoming edges, click or Enter selects it,
// arrow keys move between tiles. No decisions about values or colours are made here.
import { drawEdges } from "./edges.js";
import { el, fmt, legend } from "./views/common.js";

const NS = "http://www.w3.org/2000/svg";


function tileLabel(column, tile) {
  return `${column.title}, channel ${tile.channel}: values from ${fmt(tile.min)} to ${fmt(tile.max)}`;
}

// Dimensions and parameters, shown with "Network details".
function details(column) {
  const box = el("div", { class: "details" });
  if (column.details) box.append(el("span", {}, column.details));
  if (column.kind !== "input") box.append(el("span", {}, `${column.params.toLocaleString("en")} parameters`));
  return box;
}

// A legend small enough for one column: a caption, the colour bar, its ends ("±x" for a
// scale centred on zero). The full sentence is its accessible name.
function compactLegend(spec, caption, name) {
  const box = el("div", { class: "legend compact", role: "img", "data-legend": name,
    "aria-label": `${caption}: colour scale from ${fmt(spec.min)} to ${fmt(spec.max)}` });
  const bar = el("span", { class: "legend-bar" });
  bar.style.background = `linear-gradient(to right, ${spec.colors.join(", ")})`;
  const ends = spec.min === -spec.max ? `±${fmt(spec.max)}` : `${fmt(spec.min)} … ${fmt(spec.max)}`;
  box.append(el("span", { class: "legend-caption", "aria-hidden": "true" }, caption), bar,
             el("span", { class: "legend-ends", "aria-hidden": "true" }, ends));
  return box;
}

// Always under the tiles: the column's activation scale and, for a convolution, its weights'.
function legends(column) {
  const box = el("div", { class: "legends" });
  box.append(column.kind === "input" ? compactLegend(column.legend, "pixels", "pixels")
    : compactLegend(column.legend, "activations", "activations"));
  if (column.weights) box.append(compactLegend(column.weights, "weights", "weights"));
  return box;
}

function spatialColumn(column) {
  const section = el("section", { class: `column kind-${column.kind}`, "data-layer": column.name, "data-kind": column.kind, "aria-label": column.label });
  const header = el("header");
  header.append(el("h3", { title: column.title }, column.title), el("span", { class: "kind" }, column.op),
                el("span", { class: "shape" }, column.shape.join(" × ")));
  const tiles = el("div", { class: "tiles" });
  for (const tile of column.tiles) {
    tiles.append(el("canvas", {
      class: "tile", width: column.width, height: column.height, tabindex: "-1",
      "data-layer": column.name, "data-channel": tile.channel, role: "button", "aria-label": tileLabel(column, tile),
    }));
  }
  section.append(header, tiles, legends(column), details(column));
  return section;
}

function outputColumn(output) {
  const section = el("section", { class: "column kind-output", "data-layer": output.name, "data-kind": "output", "aria-label": `output (${output.title}): class probabilities` });
  const header = el("header");
  header.append(el("h3", { title: output.title }, "output"), el("span", { class: "kind" }, output.op),
                el("span", { class: "shape" }, `${output.classes.length} classes`));
  const list = el("ol", { class: "classes" });
  for (const cls of output.classes) {
    const pct = `${(cls.probability * 100).toFixed(2)}%`;
    const item = el("li", {
      class: cls.index === output.top1 ? "class top" : "class", tabindex: "-1", role: "button",
      "data-layer": output.name, "data-channel": cls.index,
      "data-probability": String(cls.probability), "data-logit": String(cls.logit),
      "aria-label": `${cls.name}: probability ${pct}, logit ${fmt(cls.logit)} (logits from ${fmt(output.legend.min)} to ${fmt(output.legend.max)})`,
    });
    const chip = el("span", { class: "logit", title: `logit ${fmt(cls.logit)}` });
    chip.style.background = cls.color;
    const track = el("span", { class: "track" });
    const bar = el("span", { class: "bar" });
    bar.style.width = pct;
    track.append(bar);
    item.append(chip, el("span", { class: "name" }, cls.name), track, el("span", { class: "pct" }, pct));
    list.append(item);
  }
  const box = el("div", { class: "legends" });
  box.append(el("span", { class: "legend-caption", "aria-hidden": "true" }, "logits"), legend(output.legend, "logits"));
  box.lastChild.dataset.legend = "logits";
  section.append(header, list, box);
  return section;
}

function structure(view) {
  return JSON.stringify([view.columns.map((c) => [c.name, c.shape]), view.output.classes.map((c) => c.name)]);
}

const key = (layer, channel) => `${layer}:${channel}`;

// The tile sizes (px) the overview may scale between to fit its screen: below MIN_TILE a
// 28×28 map can no longer be read; phones keep PHONE_TILE and scroll sideways instead.
const MIN_TILE = 24;
const MAX_TILE = 52;
const PHONE_WIDTH = 600;

export class Overview {
  // onOpen(layer, channel): click or Enter; onMove(layer, channel): the arrow keys moved
  // the focus (an open detail view follows). fit: "screen" (width, and height where
  // possible), "width" (scaled to the frame's width, for embeds) or "none".
  constructor(root, { onOpen, onMove = () => {}, fit = "screen" }) {
    this.root = root;
    this.onOpen = onOpen;
    this.onMove = onMove;
    this.fitMode = fit;
    this.view = null;
    this.incoming = new Map();
    this.focusKey = null;
    this.selectedKey = null;
    this.svg = document.createElementNS(NS, "svg");
    this.svg.setAttribute("class", "edges");
    this.svg.setAttribute("aria-hidden", "true");
    this.tooltip = el("div", { class: "tooltip", role: "tooltip", hidden: "" });
    root.addEventListener("pointerover", (event) => this.hover(event.target.closest("[data-channel]")));
    root.addEventListener("pointerleave", () => this.hover(null));
    root.addEventListener("focusin", (event) => this.hover(event.target.closest("[data-channel]")));
    root.addEventListener("focusout", (event) => {
      if (!root.contains(event.relatedTarget)) this.hover(null);
    });
    root.addEventListener("click", (event) => {
      const item = event.target.closest("[data-channel]");
      if (item) this.activate(item);
    });
    root.addEventListener("keydown", (event) => this.key(event));
    new ResizeObserver(() => this.view && this.redrawEdges()).observe(root);
    let pending = false;
    window.addEventListener("resize", () => {
      if (pending || !this.view) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; this.fit(); });
    });
  }

  // Picks the largest tile size at which the overview fits: its width always, the screen's
  // height where possible (never below MIN_TILE). Each try is one layout, a few per resize.
  fit() {
    const style = this.root.style;
    if (this.fitMode === "width") {
      this.fitWidth();
      return;
    }
    if (this.fitMode !== "screen" || innerWidth < PHONE_WIDTH) {
      style.removeProperty("--tile");
      this.redrawEdges();
      return;
    }
    // The edges' SVG still has the old size, which would count in the scroll width.
    this.svg.setAttribute("width", 0);
    this.svg.setAttribute("height", 0);
    const fits = (size, height) => {
      style.setProperty("--tile", `${size}px`);
      if (this.root.scrollWidth > this.root.clientWidth + 1) return false;
      return !height || this.root.getBoundingClientRect().bottom + scrollY <= innerHeight;
    };
    const largest = (height) => {
      let [low, high] = [MIN_TILE, MAX_TILE];
      if (!fits(low, height)) return null;
      while (low < high) {
        const mid = Math.ceil((low + high) / 2);
        if (fits(mid, height)) low = mid; else high = mid - 1;
      }
      return low;
    };
    const size = largest(true) ?? largest(false) ?? MIN_TILE;
    style.setProperty("--tile", `${size}px`);
    this.redrawEdges();
  }

  // The whole overview scaled down (CSS zoom) to its frame's width.
  fitWidth() {
    this.svg.setAttribute("width", 0);
    this.svg.setAttribute("height", 0);
    this.root.style.removeProperty("zoom");
    const scale = Math.min(1, this.root.clientWidth / this.root.scrollWidth);
    if (scale < 1) this.root.style.setProperty("zoom", String(Math.floor(scale * 1000) / 1000));
    this.redrawEdges();
  }

  items() {
    return [...this.root.querySelectorAll("section.column")].map((c) => [...c.querySelectorAll("[data-channel]")]);
  }

  find(layer, channel) {
    return this.root.querySelector(`[data-layer="${CSS.escape(layer)}"][data-channel="${channel}"]`);
  }

  render(view, rasters) {
    this.view = view;
    const rebuild = this.root.dataset.structure !== structure(view);
    if (rebuild) {
      this.root.replaceChildren(this.svg, ...view.columns.map(spatialColumn), outputColumn(view.output), this.tooltip);
      this.root.dataset.structure = structure(view);
    } else {
      view.columns.forEach((column) => {
        const section = this.root.querySelector(`section.column[data-layer="${CSS.escape(column.name)}"]`);
        section.querySelector(".details").replaceWith(details(column));
        section.querySelector(".legends").replaceWith(legends(column));
        section.querySelectorAll("canvas.tile").forEach((c, k) => c.setAttribute("aria-label", tileLabel(column, column.tiles[k])));
      });
      this.root.querySelector("section.kind-output").replaceWith(outputColumn(view.output));
    }
    this.paint(view, rasters);
    // Same columns, same tiles, same places: the edges drawn for them still fit (a resize
    // of the overview redraws them through the ResizeObserver).
    if (rebuild) this.fit();
    this.restoreMarks();
  }

  // Every tile from the one raster buffer: ImageData views into it, no per-pixel work.
  paint(view, rasters) {
    for (const column of view.columns) {
      const canvases = this.root.querySelectorAll(`section.column[data-layer="${CSS.escape(column.name)}"] canvas.tile`);
      const size = column.width * column.height * 4;
      column.tiles.forEach((tile, k) => {
        const pixels = new Uint8ClampedArray(rasters.buffer, rasters.byteOffset + tile.offset, size);
        canvases[k].getContext("2d").putImageData(new ImageData(pixels, column.width, column.height), 0, 0);
      });
    }
  }

  redrawEdges() {
    this.incoming = drawEdges(this.root, this.svg, this.view);
  }

  restoreMarks() {
    const all = this.items().flat();
    all.forEach((item) => item.setAttribute("tabindex", "-1"));
    const focus = (this.focusKey && this.find(...this.focusKey.split(/:(?=\d+$)/))) || all[0];
    if (focus) focus.setAttribute("tabindex", "0");
    const selected = this.selectedKey && this.find(...this.selectedKey.split(/:(?=\d+$)/));
    if (selected) selected.classList.add("selected");
  }

  hover(item) {
    for (const path of this.svg.querySelectorAll("path.lit")) path.classList.remove("lit");
    if (!item || !this.view) {
      this.tooltip.hidden = true;
      return;
    }
    let edges = this.incoming.get(key(item.dataset.layer, item.dataset.channel)) || [];
    if (typeof edges === "function") edges = edges();  // a wide network's, made on demand
    for (const path of edges) path.classList.add("lit");
    this.tooltip.textContent = item.getAttribute("aria-label");
    const box = this.root.getBoundingClientRect();
    const r = item.getBoundingClientRect();
    this.tooltip.style.left = `${r.left - box.left + this.root.scrollLeft}px`;
    this.tooltip.style.top = `${r.bottom - box.top + 4}px`;
    this.tooltip.hidden = false;
  }

  select(layer, channel) {
    const item = this.find(layer, channel);
    if (!item) return null;
    this.root.querySelectorAll(".selected").forEach((e) => e.classList.remove("selected"));
    item.classList.add("selected");
    this.selectedKey = key(layer, channel);
    this.moveFocus(item, false);
    return item;
  }

  clearSelection() {
    this.root.querySelectorAll(".selected").forEach((e) => e.classList.remove("selected"));
    this.selectedKey = null;
  }

  activate(item) {
    this.select(item.dataset.layer, Number(item.dataset.channel));
    this.onOpen(item.dataset.layer, Number(item.dataset.channel));
  }

  // Hides the tooltip and unlights the edges (a dialog opens over the overview).
  unhover() {
    this.hover(null);
  }

  moveFocus(item, focus = true) {
    this.root.querySelectorAll('[tabindex="0"]').forEach((e) => e.setAttribute("tabindex", "-1"));
    item.setAttribute("tabindex", "0");
    this.focusKey = key(item.dataset.layer, item.dataset.channel);
    if (focus) item.focus();
  }

  key(event) {
    const item = event.target.closest("[data-channel]");
    if (!item) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      this.activate(item);
      return;
    }
    const grid = this.items();
    if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      const all = grid.flat();
      const next = event.key === "Home" ? all[0] : all[all.length - 1];
      this.moveFocus(next);
      if (next !== item) this.onMove(next.dataset.layer, Number(next.dataset.channel));
      return;
    }
    const moves = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const col = grid.findIndex((c) => c.includes(item));
    const row = grid[col].indexOf(item);
    const [dx, dy] = moves[event.key];
    const nextCol = grid[Math.min(Math.max(col + dx, 0), grid.length - 1)];
    const next = nextCol[Math.min(Math.max(row + dy, 0), nextCol.length - 1)];
    this.moveFocus(next);
    if (next !== item) this.onMove(next.dataset.layer, Number(next.dataset.channel));
  }
}
