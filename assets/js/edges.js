// The SVG edges between tiles: which tiles of the previous column feed each tile.
// Python decides the connections (column.sources); this only draws and highlights them.

const NS = "http://www.w3.org/2000/svg";

// Where an edge meets a tile, in the overview's own pixels: rectangles come zoomed (an
// embed scaled to its frame), the SVG inside the overview is drawn before the zoom.
function anchor(tile, box, side, zoom) {
  const r = tile.getBoundingClientRect();
  return [((side === "right" ? r.right : r.left) - box.left) / zoom, (r.top - box.top + r.height / 2) / zoom];
}

function curve([x1, y1], [x2, y2]) {
  const mid = (x1 + x2) / 2;
  return `M${x1.toFixed(1)},${y1.toFixed(1)} C${mid.toFixed(1)},${y1.toFixed(1)} ${mid.toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
}

// More resting edges than this make the overview slow to lay out and, passed to one DOM call,
// overflow the JS stack (a ResNet's 512 × 512 convolutions alone give 262,144). Past it, no
// edge rests on screen and a tile's edges are made when it is pointed at.
const MAX_RESTING_EDGES = 8000;

// Draws every edge faintly and returns, per "layer:channel", the edges that enter that tile
// (or class: the output lists the last column's channels that feed each class); for a wide
// network a function that makes them on demand.
export function drawEdges(root, svg, view) {
  // Shrink first: the old size would otherwise keep the scroll area as large as it was.
  svg.setAttribute("width", 0);
  svg.setAttribute("height", 0);
  svg.setAttribute("width", root.scrollWidth);
  svg.setAttribute("height", root.scrollHeight);
  const wiring = [];
  let total = 0;
  for (const column of [...view.columns, view.output]) {
    if (!column.sources) continue;
    const from = root.querySelectorAll(`section.column[data-layer="${CSS.escape(column.sources.column)}"] canvas.tile`);
    const to = root.querySelectorAll(`section.column[data-layer="${CSS.escape(column.name)}"] [data-channel]`);
    column.sources.channels.forEach((sources, k) => {
      if (!to[k]) return;
      wiring.push({ column, k, sources, to: to[k], from });
      total += sources.length;
    });
  }
  const incoming = new Map();
  const resting = document.createDocumentFragment();
  for (const entry of wiring) {
    const name = `${entry.column.name}:${entry.k}`;
    if (total <= MAX_RESTING_EDGES) {
      const edges = makeEdges(root, entry);
      edges.forEach((path) => resting.append(path));
      incoming.set(name, edges);
    } else {
      incoming.set(name, () => {
        const edges = makeEdges(root, entry);
        edges.forEach((path) => { path.classList.add("transient"); svg.append(path); });
        incoming.set(name, edges);
        return edges;
      });
    }
  }
  svg.replaceChildren(resting);
  return incoming;
}

function makeEdges(root, { column, k, sources, to, from }) {
  const box = root.getBoundingClientRect();
  const zoom = root.currentCSSZoom || 1;
  const scrollX = root.scrollLeft;
  const end = anchor(to, box, "left", zoom);
  return sources.map((s) => {
    const start = anchor(from[s], box, "right", zoom);
    const path = document.createElementNS(NS, "path");
    path.setAttribute("d", curve([start[0] + scrollX, start[1]], [end[0] + scrollX, end[1]]));
    path.dataset.to = `${column.name}:${k}`;
    path.dataset.from = `${column.sources.column}:${s}`;
    return path;
  });
}
