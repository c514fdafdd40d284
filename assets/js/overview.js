// Draws the overview view-model that Python computed (cnnlens/views/overview.py) and
// handles pointing at it: hover lights a tile's incoming edges, click or Enter selects it,
// arrow keys move between tiles. No decisions about values or colours are made here.
import { drawEdges } from "./edges.js";
import { channelPager, details, legends, outputColumn, paged, shownRange, spatialColumn, tileLabel, tileList } from "./overview-columns.js";
import { el } from "./views/common.js";

const NS = "http://www.w3.org/2000/svg";


function structure(view) {
  return JSON.stringify([view.columns.map((c) => [c.name, c.shape]), view.output.classes.map((c) => c.name)]);
}

const key = (layer, channel) => `${layer}:${channel}`;

// The tile sizes (px) the overview may scale between to fit its screen: below MIN_TILE a
// 28×28 map can no longer be read; phones keep PHONE_TILE and scroll sideways instead.
const MIN_TILE = 24;
const MAX_TILE = 52;
const PHONE_WIDTH = 600;
// An expanded overview (a detail view in place) folds the other columns into strips at its
// edges: at most MAX_FOLD of their size, together at most STRIPS of the overview's width.
const MAX_FOLD = 0.3;
const STRIPS = 0.1;

export class Overview {
  // onOpen(layer, channel): click or Enter; onMove(layer, channel): the arrow keys moved
  // the focus (an open detail view follows). fit: "screen" (width, and height where
  // possible), "width" (scaled to the frame's width, for embeds) or "none".
  // onPage(layer, channel): resolves to the worker's ChannelsAnswer for the page of a
  // column's channels that holds `channel`, or null (the page stays).
  constructor(root, { onOpen, onMove = () => {}, onPage = null, fit = "screen" }) {
    this.root = root;
    this.onOpen = onOpen;
    this.onMove = onMove;
    this.onPage = onPage;
    this.pages = new Map();  // layer → a channel of the page shown, for those not on their first
    this.outputFirst = 0;  // the rank of the first class shown
    this.fitMode = fit;
    this.view = null;
    this.incoming = new Map();
    this.focusKey = null;
    this.selectedKey = null;
    this.expanded = null;  // the layer an open detail view has made room around
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
      const turn = event.target.closest("[data-page]");
      if (turn) this.showPage(turn.dataset.layer, Number(turn.dataset.page), turn.dataset.role);
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
  // height where possible (never below MIN_TILE). Each try is one layout, a few per resize;
  // none while hidden (the prerendered paint renders into the hidden app; revealing it fits).
  fit() {
    if (!this.root.getClientRects().length) return;
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

  // Per column, what the arrow keys move through: its tiles (or classes), then its pager.
  items() {
    return [...this.root.querySelectorAll("section.column")].map((c) => [...c.querySelectorAll("[data-channel], [data-page]")]);
  }

  find(layer, channel) {
    return this.root.querySelector(`[data-layer="${CSS.escape(layer)}"][data-channel="${channel}"]`);
  }

  render(view, rasters) {
    this.view = view;
    const rebuild = this.root.dataset.structure !== structure(view);
    let moved = false;
    if (rebuild) {
      this.root.replaceChildren(this.svg, ...view.columns.map((c) => spatialColumn(c, Boolean(this.onPage))), outputColumn(view.output, 0, view.page), this.tooltip);
      this.root.dataset.structure = structure(view);
      this.pages.clear();
      this.outputFirst = 0;
    } else {
      view.columns.forEach((column) => {
        const section = this.section(column.name);
        section.querySelector(".details").replaceWith(details(column));
        section.querySelector(".legends").replaceWith(legends(column));
        const canvases = section.querySelectorAll("canvas.tile");
        if (canvases[0]?.dataset.channel !== String(column.tiles[0].channel)) {
          this.putTiles(section, column);
          moved = true;
        } else {
          canvases.forEach((c, k) => c.setAttribute("aria-label", tileLabel(column, column.tiles[k])));
        }
      });
      this.root.querySelector("section.kind-output").replaceWith(outputColumn(view.output, this.outputFirst, view.page));
    }
    view.columns.forEach((column) => this.paint(column, rasters));
    // Same columns, same tiles, same places: the edges drawn for them still fit (a resize
    // of the overview redraws them through the ResizeObserver).
    if (rebuild) this.fit();
    else if (moved) this.redrawEdges();
    this.restoreMarks();
    // A new picture or colour range comes with each column's first page: show again the
    // pages the reader had turned to.
    for (const [layer, channel] of this.pages) {
      if (!this.find(layer, channel)) this.showPage(layer, channel);
    }
  }

  section(layer) {
    return this.root.querySelector(`section.column[data-layer="${CSS.escape(layer)}"]`);
  }

  // A column's tiles (and pager) for the channels `column` shows.
  putTiles(section, column) {
    section.querySelector(".tiles").replaceWith(tileList(column));
    section.querySelector(".pager")?.remove();
    if (paged(column)) section.querySelector(".tiles").after(channelPager(column, Boolean(this.onPage)));
  }

  // One column's tiles from a raster buffer: ImageData views into it, no per-pixel work.
  paint(column, rasters) {
    const canvases = this.section(column.name).querySelectorAll("canvas.tile");
    const size = column.width * column.height * 4;
    column.tiles.forEach((tile, k) => {
      const pixels = new Uint8ClampedArray(rasters.buffer, rasters.byteOffset + tile.offset, size);
      canvases[k].getContext("2d").putImageData(new ImageData(pixels, column.width, column.height), 0, 0);
    });
  }

  // Shows the page of `layer`'s channels that holds `channel` (asked of the worker); the
  // pager button `role` that asked keeps the focus. Resolves to whether it is shown.
  async showPage(layer, channel, role = null) {
    const had = role && this.root.contains(document.activeElement);
    if (layer === this.view?.output.name) {
      // The classes are all in the view already: no need to ask.
      const rank = this.view.output.order.indexOf(channel);
      if (rank < 0) return false;
      this.outputFirst = rank - (rank % this.view.page);
      this.root.querySelector("section.kind-output").replaceWith(outputColumn(this.view.output, this.outputFirst, this.view.page));
      this.afterPage(layer, role, had);
      return true;
    }
    const answer = this.onPage && await this.onPage(layer, channel);
    const at = this.view?.columns.findIndex((c) => c.name === layer) ?? -1;
    const column = answer?.view;
    // Another model (or a page asked later) may have come meanwhile.
    if (!column || at < 0 || String(this.view.columns[at].shape) !== String(column.shape)) return false;
    this.view.columns[at] = column;
    const [first] = shownRange(column);
    if (first > 0) this.pages.set(layer, first); else this.pages.delete(layer);
    this.putTiles(this.section(layer), column);
    this.paint(column, answer.rasters);
    this.afterPage(layer, role, had);
    return true;
  }

  // Edges and marks for a column's new page; the pager button that turned it keeps the focus.
  afterPage(layer, role, had) {
    this.redrawEdges();
    this.restoreMarks();
    const button = role && this.section(layer).querySelector(`.pager [data-role="${role}"]`);
    if (button && had) this.moveFocus(button);
  }

  // The tile of `channel` in `layer`, turning the column to its page first if need be (a
  // link, or a detail view kept across a new picture); null when there is none.
  async reveal(layer, channel) {
    const column = this.view?.columns.find((c) => c.name === layer);
    const count = column ? column.shape[0] : layer === this.view?.output.name ? this.view.output.classes.length : 0;
    if (!this.find(layer, channel) && channel >= 0 && channel < count) {
      await this.showPage(layer, channel);
    }
    return this.find(layer, channel);
  }

  redrawEdges() {
    // Columns moved aside for a detail view: the edges, hidden, wait until they are back.
    this.staleEdges = Boolean(this.expanded);
    if (!this.staleEdges) this.incoming = drawEdges(this.root, this.svg, this.view);
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

  // Makes room for a detail view inside the overview's box (the in-place detail view), like
  // an accordion: the column `layer` goes to the box's right, the one feeding it to its left,
  // every other column shrinks into a faded strip at the edge on its side (still there to
  // point at and click), and the room between the two kept columns is the view's (app.css,
  // .overview.expanded). Returns that room, {left, right} in px from the box's left and right
  // edges, or null when `layer` has no column.
  expand(layer, { now = false } = {}) {
    const columns = [...this.root.querySelectorAll("section.column")];
    const at = columns.findIndex((c) => c.dataset.layer === layer);
    if (at < 0) return null;
    const source = at === columns.length - 1 && this.view ? this.view.columns.at(-1).name
      : this.view?.columns.find((c) => c.name === layer)?.sources?.column;
    const from = columns.findIndex((c) => c.dataset.layer === source);
    const kept = (k) => k === at || k === from;
    const start = this.root.scrollLeft;
    const end = start + this.root.clientWidth;
    const gap = parseFloat(getComputedStyle(this.root).columnGap) || 0;
    const folded = columns.filter((c, k) => !kept(k)).reduce((sum, c) => sum + c.offsetWidth, 0);
    const scale = Math.min(MAX_FOLD, (STRIPS * this.root.clientWidth) / (folded || 1));
    const places = new Map();  // column → [left edge, scale]
    let x = start;
    columns.forEach((c, k) => {
      if (k >= at || kept(k)) return;
      places.set(c, [x, scale]);
      x += c.offsetWidth * scale + gap;
    });
    if (from >= 0) {
      places.set(columns[from], [x, 1]);
      x += columns[from].offsetWidth;
    }
    let y = end;
    for (let k = columns.length - 1; k > at; k -= 1) {
      y -= columns[k].offsetWidth * scale;
      places.set(columns[k], [y, scale]);
      y -= gap;
    }
    y -= columns[at].offsetWidth;
    places.set(columns[at], [y, 1]);
    columns.forEach((column, k) => {
      const [left, size] = places.get(column);
      const shift = left - column.offsetLeft;
      column.classList.toggle("faded", !kept(k));
      column.style.transform = shift || size !== 1 ? `translateX(${shift}px) scale(${size})` : "";
    });
    this.root.classList.replace("settling", "expanded") || this.root.classList.add("expanded");
    this.expanded = layer;
    if (now) columns.forEach((c) => c.getAnimations().forEach((a) => a.finish()));
    return { left: x - start, right: end - y };
  }

  // Back to every column in its place (the reverse transition is the stylesheet's; `now`:
  // none, before the overview is measured again); edges asked for meanwhile are drawn once
  // the columns have arrived.
  collapse({ now = false } = {}) {
    if (!this.expanded) return;
    this.expanded = null;
    this.root.classList.replace("expanded", "settling");  // edges hidden until columns rest
    const columns = [...this.root.querySelectorAll("section.column")];
    columns.forEach((column) => {
      column.classList.remove("faded");
      column.style.removeProperty("transform");
    });
    const moving = columns.flatMap((c) => c.getAnimations());
    if (now) moving.forEach((a) => a.finish());
    Promise.all(moving.map((a) => a.finished.catch(() => null))).then(() => {
      if (this.expanded) return;
      this.root.classList.remove("settling");
      if (this.staleEdges) this.redrawEdges();
    });
  }

  moveFocus(item, focus = true) {
    this.root.querySelectorAll('[tabindex="0"]').forEach((e) => e.setAttribute("tabindex", "-1"));
    item.setAttribute("tabindex", "0");
    if (item.dataset.channel !== undefined) this.focusKey = key(item.dataset.layer, item.dataset.channel);
    if (focus) item.focus();
  }

  // The arrow keys' move to `next`: an open detail view follows a tile, not a pager.
  moved(item, next) {
    if (next !== item && next.dataset.channel !== undefined) this.onMove(next.dataset.layer, Number(next.dataset.channel));
  }

  key(event) {
    const item = event.target.closest("[data-channel], [data-page]");
    if (!item) return;
    const turn = item.dataset.page !== undefined;
    if (turn && (event.key === "Enter" || event.key === " ")) return;  // the button's own click
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
      this.moved(item, next);
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
    this.moved(item, next);
  }
}
