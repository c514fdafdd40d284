// The SVG edges between tiles: which tiles of earlier columns feed each tile shown.
// Python decides the connections (column.sources, py/cnnlens/views/connections.py: a few
// parts per column, each a range of its channels reading a column in equal groups); this
// derives each tile's edges from them, draws them and lights them.

const NS = "http://www.w3.org/2000/svg";

// The channels [low, high) of a part's source column (of `count`) that feed channel `k`,
// or null when the part does not hold `k`: group g of the part's channels reads group g
// of the source's.
export function feeders(part, count, k) {
  if (k < part.start || k >= part.stop) return null;
  const perOut = (part.stop - part.start) / part.groups;
  const perIn = count / part.groups;
  const group = Math.floor((k - part.start) / perOut);
  return [group * perIn, (group + 1) * perIn];
}

// Where an edge meets a tile, in the overview's own pixels: rectangles come zoomed (an
// embed scaled to its frame), the SVG inside the overview is drawn before the zoom.
export function anchor(tile, box, side, zoom) {
  const r = tile.getBoundingClientRect();
  return [((side === "right" ? r.right : r.left) - box.left) / zoom, (r.top - box.top + r.height / 2) / zoom];
}

export function curve([x1, y1], [x2, y2]) {
  const mid = (x1 + x2) / 2;
  return `M${x1.toFixed(1)},${y1.toFixed(1)} C${mid.toFixed(1)},${y1.toFixed(1)} ${mid.toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
}

// More resting edges than this make the overview slow to lay out and its DOM large (a
// ResNet's shown tiles alone have thousands). Past it, no edge rests on screen and a tile's
// edges are made when it is pointed at.
const MAX_RESTING_EDGES = 2000;

const section = (root, name) => root.querySelector(`section.column[data-layer="${CSS.escape(name)}"]`);

// The shown tiles of a column by channel.
function shownTiles(root, name) {
  const tiles = new Map();
  section(root, name)?.querySelectorAll("[data-channel]").forEach((t) => tiles.set(Number(t.dataset.channel), t));
  return tiles;
}

// Per tile shown, where its edges come from: for each part, the shown source tiles in its
// range and how many of the range are on other pages.
function wiring(root, view) {
  const channels = new Map(view.columns.map((c) => [c.name, c.shape[0]]));
  const shown = new Map();
  const tilesOf = (name) => {
    if (!shown.has(name)) shown.set(name, shownTiles(root, name));
    return shown.get(name);
  };
  const entries = [];
  for (const column of [...view.columns, view.output]) {
    if (!column.sources) continue;
    for (const [k, to] of tilesOf(column.name)) {
      const from = [];
      for (const part of column.sources.parts) {
        const range = feeders(part, channels.get(part.column), k);
        if (!range) continue;
        const tiles = tilesOf(part.column);
        const inRange = [...tiles.keys()].filter((s) => s >= range[0] && s < range[1]);
        from.push({ column: part.column, tiles: inRange.map((s) => [s, tiles.get(s)]), hidden: range[1] - range[0] - inRange.length });
      }
      entries.push({ name: `${column.name}:${k}`, to, from });
    }
  }
  return entries;
}

// Draws every edge faintly and returns, per "layer:channel" shown, the edges that enter
// that tile (or class); past MAX_RESTING_EDGES a function that makes them on demand.
export function drawEdges(root, svg, view) {
  // Shrink first: the old size would otherwise keep the scroll area as large as it was.
  svg.setAttribute("width", 0);
  svg.setAttribute("height", 0);
  svg.setAttribute("width", root.scrollWidth);
  svg.setAttribute("height", root.scrollHeight);
  const entries = wiring(root, view);
  const total = entries.reduce((n, e) => n + e.from.reduce((m, f) => m + f.tiles.length, 0), 0);
  const incoming = new Map();
  const resting = document.createDocumentFragment();
  for (const entry of entries) {
    if (total <= MAX_RESTING_EDGES) {
      const edges = makeEdges(root, entry);
      edges.forEach((path) => resting.append(path));
      incoming.set(entry.name, edges);
    } else {
      incoming.set(entry.name, () => {
        const edges = makeEdges(root, entry);
        edges.forEach((path) => { path.classList.add("transient"); svg.append(path); });
        incoming.set(entry.name, edges);
        return edges;
      });
    }
  }
  svg.replaceChildren(resting);
  return incoming;
}

export function edgePath(d, from, to) {
  const edge = document.createElementNS(NS, "path");
  edge.setAttribute("d", d);
  edge.dataset.from = from;
  edge.dataset.to = to;
  return edge;
}

// One curve per shown source tile; for channels on other pages of a source column, one
// dashed stub from that column's pager ("from N more"), which is shown only when lit.
function makeEdges(root, { name, to, from }) {
  const box = root.getBoundingClientRect();
  const zoom = root.currentCSSZoom || 1;
  const scrollX = root.scrollLeft;
  const shift = ([x, y]) => [x + scrollX, y];
  const end = shift(anchor(to, box, "left", zoom));
  const edges = [];
  for (const source of from) {
    for (const [s, tile] of source.tiles) {
      edges.push(edgePath(curve(shift(anchor(tile, box, "right", zoom)), end), `${source.column}:${s}`, name));
    }
    const pager = source.hidden > 0 && section(root, source.column)?.querySelector(".pager");
    if (pager) {
      const stub = edgePath(curve(shift(anchor(pager, box, "right", zoom)), end), `${source.column}:+${source.hidden}`, name);
      stub.classList.add("stub");
      edges.push(stub);
    }
  }
  return edges;
}
