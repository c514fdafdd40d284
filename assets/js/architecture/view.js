// The architecture view: the current model as a graph of boxes, one per node, with its op,
// output shape, parameters and multiply-adds, beside a minimap of the whole graph.
// py/cnnlens/views/architecture.py lays the graph out; drawing.js draws it, camera.js moves
// the view, minimap.js is the small copy, graph.js knows who neighbours whom. This class
// takes the user's input: zoom (wheel, + and − buttons and keys), pan (drag, Shift + arrow
// keys), fit (0), natural size (1), focus along edges (arrow keys, Home, End), and Enter or a
// click to jump to the node's column in the overview.

import { Camera } from "./camera.js";
import { drawGraph, lightEdges } from "./drawing.js";
import { html, svg } from "./elements.js";
import { Graph } from "./graph.js";
import { totalsText } from "./labels.js";
import { Minimap } from "./minimap.js";

const ZOOM_STEP = 1.25;
const PAN_STEP = 80;  // screen pixels per Shift + arrow key
const DRAG_SLOP = 4;  // pixels a press may move and still be a click

export class ArchitectureView {
  // root: the <section id="architecture">; onJump(node) shows the node's overview column.
  constructor(root, { onJump }) {
    this.root = root;
    this.onJump = onJump;
    this.view = null;
    this.graph = null;
    this.totals = html("p", { class: "arch-totals", "aria-live": "polite" });
    const button = (label, title, action) => {
      const b = html("button", { type: "button", class: "secondary", title, "aria-label": title }, [label]);
      b.addEventListener("click", action);
      return b;
    };
    this.toolbar = html("div", { class: "arch-toolbar", role: "toolbar", "aria-label": "Architecture view" }, [
      button("+", "Zoom in (+)", () => this.camera.zoom(ZOOM_STEP)),
      button("−", "Zoom out (−)", () => this.camera.zoom(1 / ZOOM_STEP)),
      button("Fit", "Fit the whole graph (0)", () => this.camera.fit(this.view)),
      button("1:1", "Natural size (1)", () => this.camera.zoom(1 / this.camera.scale)),
      html("span", { class: "hint" }, ["Arrow keys follow the edges, Shift + arrows pan, Enter shows the layer in the overview; the strip on the right is the whole graph"]),
    ]);
    this.svg = svg("svg", { class: "arch-graph", role: "group", "aria-label": "Model graph" });
    this.minimap = new Minimap((x, y) => this.camera.centre(x, y));
    this.camera = new Camera(this.svg, (box) => this.minimap.show(box));
    root.replaceChildren(this.totals, this.toolbar, html("div", { class: "arch-stage" }, [this.svg, this.minimap.element]));
    this.wire();
  }

  render(view) {
    this.view = view;
    this.graph = new Graph(view);
    this.totals.textContent = totalsText(view);
    this.totals.title = view.conventions;
    drawGraph(this.svg, view);
    this.minimap.render(view);
    const first = view.nodes[0];
    this.setFocusable(first.id);
    this.camera.whenSized(() => this.camera.opening(view, first, this.labelPx()));
  }

  // The smallest font size of a box's lines, in CSS pixels at natural size (architecture.css).
  labelPx() {
    const lines = [...this.svg.querySelectorAll("g.arch-node:first-of-type text")];
    return Math.min(...lines.map((line) => parseFloat(getComputedStyle(line).fontSize)));
  }

  element(id) {
    return this.svg.querySelector(`g.arch-node[data-node="${id}"]`);
  }

  column(node, has) {
    return this.graph.column(node, has);
  }

  setFocusable(id) {
    this.svg.querySelectorAll('g.arch-node[tabindex="0"]').forEach((g) => g.setAttribute("tabindex", "-1"));
    this.element(id)?.setAttribute("tabindex", "0");
    this.current = id;
  }

  focusNode(id) {
    this.setFocusable(id);
    lightEdges(this.svg, id);
    this.camera.reveal(this.graph.node(id));
    this.element(id)?.focus({ preventScroll: true });
  }

  wire() {
    this.svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      const r = this.svg.getBoundingClientRect();
      this.camera.zoom(Math.exp(-event.deltaY * 0.0015), event.clientX - r.left, event.clientY - r.top);
    }, { passive: false });
    let press = null;
    this.svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      press = { x: event.clientX, y: event.clientY, moved: false, id: event.pointerId };
    });
    this.svg.addEventListener("pointermove", (event) => {
      if (!press || press.id !== event.pointerId) return;
      const dx = event.clientX - press.x;
      const dy = event.clientY - press.y;
      if (!press.moved && Math.hypot(dx, dy) < DRAG_SLOP) return;
      if (!press.moved) this.svg.setPointerCapture(event.pointerId);
      press.moved = true;
      this.svg.classList.add("panning");
      this.camera.pan(-dx, -dy);
      press.x = event.clientX;
      press.y = event.clientY;
    });
    const release = (event) => {
      if (!press || press.id !== event.pointerId) return;
      const click = !press.moved;
      press = null;
      this.svg.classList.remove("panning");
      const g = click && event.type === "pointerup" && event.target.closest?.("g.arch-node");
      if (g) {
        const id = Number(g.dataset.node);
        this.focusNode(id);
        this.onJump(this.graph.node(id));
      }
    };
    this.svg.addEventListener("pointerup", release);
    this.svg.addEventListener("pointercancel", release);
    this.svg.addEventListener("focusin", (event) => {
      const g = event.target.closest("g.arch-node");
      if (!g) return;
      this.setFocusable(Number(g.dataset.node));
      this.camera.reveal(this.graph.node(Number(g.dataset.node)));
    });
    this.root.addEventListener("keydown", (event) => this.key(event));
  }

  key(event) {
    if (!this.view || event.target.closest("button")) return;
    const pans = { ArrowUp: [0, -PAN_STEP], ArrowDown: [0, PAN_STEP], ArrowLeft: [-PAN_STEP, 0], ArrowRight: [PAN_STEP, 0] };
    const zooms = { "+": ZOOM_STEP, "=": ZOOM_STEP, "-": 1 / ZOOM_STEP, "−": 1 / ZOOM_STEP };
    const g = event.target.closest("g.arch-node");
    let done = true;
    if (event.key in pans && (event.shiftKey || !g)) {
      this.camera.pan(...pans[event.key]);
    } else if (event.key in pans) {
      this.focusNode(this.graph.neighbour(Number(g.dataset.node), event.key));
    } else if (event.key in zooms) {
      this.camera.zoom(zooms[event.key]);
    } else if (event.key === "0") {
      this.camera.fit(this.view);
    } else if (event.key === "1") {
      this.camera.zoom(1 / this.camera.scale);
    } else if (event.key === "Home" || event.key === "End") {
      const nodes = this.view.nodes;
      this.focusNode(nodes[event.key === "Home" ? 0 : nodes.length - 1].id);
    } else if ((event.key === "Enter" || event.key === " ") && g) {
      this.onJump(this.graph.node(Number(g.dataset.node)));
    } else {
      done = false;
    }
    if (done) event.preventDefault();
  }
}
