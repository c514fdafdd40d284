// The whole graph, small, beside the view, with the rectangle the view shows. A press or a
// drag on it moves the view there. A graph that would fill less than half of its box drawn
// to scale is stretched to it (ResNet-50 is 44 times taller than wide), so the depth reads
// top to bottom and the branches side by side. For pointers only (aria-hidden): the
// keyboard walks the nodes, and the view follows the focused one.

import { svg } from "./elements.js";

const FLAT = { "vector-effect": "non-scaling-stroke" };  // hairlines at any stretch

export class Minimap {
  // onPoint(x, y): a graph point the user pressed or dragged to.
  constructor(onPoint) {
    this.onPoint = onPoint;
    this.extent = null;
    this.frame = svg("rect", { class: "arch-minimap-view", ...FLAT });
    this.element = svg("svg", { class: "arch-minimap", "aria-hidden": "true", "data-testid": "arch-minimap" });
    this.wire();
  }

  // The nodes as one path per kind (the view's tints), the edges as one path: a handful of
  // elements for any net.
  render(view) {
    this.extent = { width: view.width, height: view.height };
    this.element.setAttribute("viewBox", `0 0 ${view.width} ${view.height}`);
    this.proportion();
    const boxes = new Map();
    for (const node of view.nodes) {
      const d = `M${node.x - node.width / 2},${node.y - node.height / 2}h${node.width}v${node.height}h${-node.width}z`;
      boxes.set(node.kind, (boxes.get(node.kind) || "") + d);
    }
    const edges = view.edges.map((edge) => `M${edge.points.map((p) => p.join(",")).join("L")}`).join("");
    this.element.replaceChildren(
      svg("path", { class: "arch-minimap-edges", d: edges, ...FLAT }),
      ...[...boxes].map(([kind, d]) => svg("path", { class: `arch-minimap-nodes kind-${kind}`, d })),
      this.frame,
    );
  }

  // To scale, from the top as the view opens, when that fills at least half the box both
  // ways; else stretched.
  proportion() {
    const { clientWidth: w, clientHeight: h } = this.element;
    const { width, height } = this.extent;
    const scale = Math.min(w / width, h / height);
    const fills = width * scale >= w / 2 && height * scale >= h / 2;
    this.element.setAttribute("preserveAspectRatio", fills ? "xMidYMin meet" : "none");
  }

  // The view's box (graph units), cut to the graph: what of the graph is on screen.
  show(box) {
    if (!this.extent) return;
    this.proportion();  // after a resize too: the view's camera reports every one
    const x0 = Math.max(0, box.x);
    const y0 = Math.max(0, box.y);
    const x1 = Math.min(this.extent.width, box.x + box.width);
    const y1 = Math.min(this.extent.height, box.y + box.height);
    const seen = x1 > x0 && y1 > y0;
    this.frame.setAttribute("visibility", seen ? "visible" : "hidden");
    for (const [name, value] of [["x", x0], ["y", y0], ["width", Math.max(0, x1 - x0)], ["height", Math.max(0, y1 - y0)]]) {
      this.frame.setAttribute(name, String(value));
    }
  }

  wire() {
    let pointer = null;
    const move = (event) => {
      const matrix = this.element.getScreenCTM();
      if (!matrix || !this.extent) return;
      const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
      this.onPoint(p.x, p.y);
    };
    this.element.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      event.preventDefault();
      pointer = event.pointerId;
      this.element.setPointerCapture(pointer);
      this.element.classList.add("dragging");
      move(event);
    });
    this.element.addEventListener("pointermove", (event) => {
      if (event.pointerId === pointer) move(event);
    });
    const release = (event) => {
      if (event.pointerId !== pointer) return;
      pointer = null;
      this.element.classList.remove("dragging");
    };
    this.element.addEventListener("pointerup", release);
    this.element.addEventListener("pointercancel", release);
  }
}
