// The graph itself: one SVG group per box (its lines of text), one S-curved path per edge,
// where py/cnnlens/views/architecture.py placed them. Nothing here moves the view.

import { svg } from "./elements.js";
import { boxLines, nodeLabel } from "./labels.js";

const LINE_CLASSES = ["arch-name", "arch-op", "arch-numbers"];

// A smooth path through the polyline: between two points, an S-curve that leaves and arrives
// vertically (every point lies one layer below the one before).
function edgePath(points) {
  let d = `M${points[0][0]},${points[0][1]}`;
  for (let k = 1; k < points.length; k += 1) {
    const [x0, y0] = points[k - 1];
    const [x1, y1] = points[k];
    const mid = (y0 + y1) / 2;
    d += ` C${x0},${mid} ${x1},${mid} ${x1},${y1}`;
  }
  return d;
}

function nodeGroup(node) {
  const left = node.x - node.width / 2;
  const top = node.y - node.height / 2;
  const lines = boxLines(node).map((text, k) => svg("text", { x: 8, y: 16 * (k + 1), class: LINE_CLASSES[k] }, [text]));
  return svg("g", {
    class: `arch-node kind-${node.kind}`, transform: `translate(${left},${top})`, tabindex: -1,
    role: "button", "data-node": node.id, "data-tensor": node.tensor, "aria-label": nodeLabel(node),
  }, [svg("title", {}, [nodeLabel(node)]), svg("rect", { width: node.width, height: node.height, rx: 6 }), ...lines]);
}

// Fills `root` (the <svg>) with the whole graph of `view`.
export function drawGraph(root, view) {
  const marker = svg("marker", { id: "arch-arrow", viewBox: "0 0 8 8", refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" }, [svg("path", { d: "M0,0 L8,4 L0,8 z" })]);
  const edges = view.edges.map((edge) => svg("path", {
    class: "arch-edge", d: edgePath(edge.points), "marker-end": "url(#arch-arrow)",
    "data-source": edge.source, "data-target": edge.target,
  }));
  root.replaceChildren(svg("defs", {}, [marker]), svg("g", { class: "arch-edges" }, edges), svg("g", { class: "arch-nodes" }, view.nodes.map(nodeGroup)));
}

// Lights the edges that meet node `id` (none for null).
export function lightEdges(root, id) {
  root.querySelectorAll(".arch-edge.lit").forEach((e) => e.classList.remove("lit"));
  if (id === null) return;
  root.querySelectorAll(`.arch-edge[data-source="${id}"], .arch-edge[data-target="${id}"]`).forEach((e) => e.classList.add("lit"));
}
