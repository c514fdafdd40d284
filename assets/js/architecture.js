// The architecture view: the current model as a graph of boxes, one per node, with its op,
// output shape, parameters and multiply-adds. py/cnnlens/views/architecture.py lays the graph
// out (layers, order, coordinates, edge polylines); this file only draws it into one SVG and
// moves the view: zoom (wheel, + and − buttons and keys), pan (drag, Shift + arrow keys),
// fit, focus along edges (arrow keys), and Enter or a click to jump to the node's column in
// the overview, with a button there that comes back. Everything is elements and attributes:
// the page's Content-Security-Policy refuses inline style.

import { explain } from "./protocol.js";

const SVG = "http://www.w3.org/2000/svg";
const MIN_SCALE = 0.01;  // ResNet-152 fits whole
const MAX_SCALE = 4;
const ZOOM_STEP = 1.25;
const PAN_STEP = 80;  // screen pixels per Shift + arrow key
const DRAG_SLOP = 4;  // pixels a press may move and still be a click

function svg(tag, attributes = {}, children = []) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

function html(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

// 1234 → "1.2k", 4089184256 → "4.09G": the magnitudes matter here, not the last digit.
export function compact(value) {
  const units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [size, unit] of units) {
    if (value >= size) return `${(value / size).toPrecision(3).replace(/\.?0+$/, "")}${unit}`;
  }
  return String(value);
}

function bytes(value) {
  const units = [[2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]];
  for (const [size, unit] of units) {
    if (value >= size) return `${(value / size).toPrecision(3).replace(/\.?0+$/, "")} ${unit}`;
  }
  return `${value} B`;
}

// The shape without its batch axis, as the overview writes it: 64×56×56.
function shapeText(shape) {
  return shape.length > 1 ? shape.slice(1).join("×") : shape.join("×");
}

function nodeLabel(node) {
  const what = [node.op, node.detail].filter(Boolean).join(" ");
  const numbers = node.id < 0 ? "" : `, ${node.params.toLocaleString("en")} parameters, ${node.macs.toLocaleString("en")} multiply-adds`;
  return `${node.name}: ${what}, output ${shapeText(node.shape)}${numbers}`;
}

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

function truncate(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

// Names lose their middle: "inception3a.branch2.1.relu" → "inception3a…ch2.1.relu", the
// block and the layer both still there.
function shorten(text, length) {
  if (text.length <= length) return text;
  const head = Math.ceil((length - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (length - 1 - head))}`;
}

// Op names as short as a box's line needs; the label read aloud keeps the full name.
const SHORT_OPS = { BatchNormalization: "BatchNorm", GlobalAveragePool: "GlobalAvgPool", LocalResponseNormalization: "LRN" };

function nodeGroup(node) {
  const left = node.x - node.width / 2;
  const top = node.y - node.height / 2;
  const lines = [
    svg("text", { x: 8, y: 16, class: "arch-name" }, [shorten(node.name, 22)]),
    svg("text", { x: 8, y: 32, class: "arch-op" }, [truncate(`${SHORT_OPS[node.op] || node.op}${node.detail ? ` ${node.detail}` : ""} · ${shapeText(node.shape)}`, 28)]),
  ];
  if (node.id >= 0) {
    lines.push(svg("text", { x: 8, y: 48, class: "arch-numbers" }, [`${compact(node.params)} params · ${compact(node.macs)} MACs`]));
  }
  return svg("g", {
    class: `arch-node kind-${node.kind}`, transform: `translate(${left},${top})`, tabindex: -1,
    role: "button", "data-node": node.id, "data-tensor": node.tensor, "aria-label": nodeLabel(node),
  }, [svg("title", {}, [nodeLabel(node)]), svg("rect", { width: node.width, height: node.height, rx: 6 }), ...lines]);
}

export class ArchitectureView {
  // root: the <section id="architecture">; onJump(node) shows the node's overview column.
  constructor(root, { onJump }) {
    this.root = root;
    this.onJump = onJump;
    this.view = null;
    this.box = { x: 0, y: 0, width: 1, height: 1 };
    this.totals = html("p", { class: "arch-totals", "aria-live": "polite" });
    const button = (label, title, action) => {
      const b = html("button", { type: "button", class: "secondary", title, "aria-label": title }, [label]);
      b.addEventListener("click", action);
      return b;
    };
    this.toolbar = html("div", { class: "arch-toolbar", role: "toolbar", "aria-label": "Architecture view" }, [
      button("+", "Zoom in (+)", () => this.zoom(ZOOM_STEP)),
      button("−", "Zoom out (−)", () => this.zoom(1 / ZOOM_STEP)),
      button("Fit", "Fit the whole graph (0)", () => this.fit()),
      html("span", { class: "hint" }, ["Arrow keys follow the edges, Shift + arrows pan, Enter shows the layer in the overview"]),
    ]);
    this.svg = svg("svg", { class: "arch-graph", role: "group", "aria-label": "Model graph" });
    root.replaceChildren(this.totals, this.toolbar, this.svg);
    this.wire();
  }

  render(view) {
    this.view = view;
    this.byId = new Map(view.nodes.map((node) => [node.id, node]));
    this.up = new Map(view.nodes.map((node) => [node.id, []]));
    this.down = new Map(view.nodes.map((node) => [node.id, []]));
    for (const edge of view.edges) {
      this.down.get(edge.source).push(edge.target);
      this.up.get(edge.target).push(edge.source);
    }
    // Neighbours left to right, as they are drawn.
    for (const list of [...this.up.values(), ...this.down.values()]) list.sort((a, b) => this.byId.get(a).x - this.byId.get(b).x);
    this.rows = new Map();
    for (const node of view.nodes) {
      if (!this.rows.has(node.layer)) this.rows.set(node.layer, []);
      this.rows.get(node.layer).push(node.id);
    }
    for (const row of this.rows.values()) row.sort((a, b) => this.byId.get(a).x - this.byId.get(b).x);
    const t = view.totals;
    this.totals.textContent = `${view.model || "Model"} at ${shapeText(view.input_shape)}: ${t.layers} layers (depth ${t.depth}), `
      + `${t.params.toLocaleString("en")} parameters, ${compact(t.macs)} multiply-adds (MACs), `
      + `${bytes(t.activation_bytes)} of activations.`;
    this.totals.title = view.conventions;
    const marker = svg("marker", { id: "arch-arrow", viewBox: "0 0 8 8", refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" }, [svg("path", { d: "M0,0 L8,4 L0,8 z" })]);
    const edges = view.edges.map((edge) => svg("path", {
      class: "arch-edge", d: edgePath(edge.points), "marker-end": "url(#arch-arrow)",
      "data-source": edge.source, "data-target": edge.target,
    }));
    const nodes = view.nodes.map(nodeGroup);
    this.svg.replaceChildren(svg("defs", {}, [marker]), svg("g", { class: "arch-edges" }, edges), svg("g", { class: "arch-nodes" }, nodes));
    this.setFocusable(view.nodes[0].id);
    this.start();
  }

  element(id) {
    return this.svg.querySelector(`g.arch-node[data-node="${id}"]`);
  }

  // Screen pixels per graph unit.
  get scale() {
    return this.svg.clientWidth / this.box.width;
  }

  setBox(x, y, width, height) {
    this.box = { x, y, width, height };
    this.svg.setAttribute("viewBox", `${x} ${y} ${width} ${height}`);
  }

  // The opening view: the graph's width fits (up to natural size), its top in sight.
  start() {
    const { clientWidth: w, clientHeight: h } = this.svg;
    const scale = Math.min(1, (w - 16) / this.view.width);
    this.setBox((this.view.width - w / scale) / 2, -8 / scale, w / scale, h / scale);
  }

  fit() {
    const { clientWidth: w, clientHeight: h } = this.svg;
    const scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, (w - 16) / this.view.width, (h - 16) / this.view.height));
    this.setBox(this.view.width / 2 - w / scale / 2, this.view.height / 2 - h / scale / 2, w / scale, h / scale);
  }

  // Zooms by `factor` about a point given in screen pixels within the SVG (default its centre).
  zoom(factor, px = this.svg.clientWidth / 2, py = this.svg.clientHeight / 2) {
    const next = Math.max(MIN_SCALE, Math.min(MAX_SCALE, this.scale * factor));
    const { x, y } = this.box;
    const gx = x + px / this.scale;
    const gy = y + py / this.scale;
    const w = this.svg.clientWidth / next;
    const h = this.svg.clientHeight / next;
    this.setBox(gx - px / next, gy - py / next, w, h);
  }

  pan(dx, dy) {  // screen pixels
    const { x, y, width, height } = this.box;
    this.setBox(x + dx / this.scale, y + dy / this.scale, width, height);
  }

  // Brings a node into sight (centred, when it was outside).
  reveal(node) {
    const { x, y, width, height } = this.box;
    const inside = node.x - node.width / 2 >= x && node.x + node.width / 2 <= x + width
      && node.y - node.height / 2 >= y && node.y + node.height / 2 <= y + height;
    if (!inside) this.setBox(node.x - width / 2, node.y - height / 2, width, height);
  }

  setFocusable(id) {
    this.svg.querySelectorAll('g.arch-node[tabindex="0"]').forEach((g) => g.setAttribute("tabindex", "-1"));
    this.element(id)?.setAttribute("tabindex", "0");
    this.current = id;
  }

  focusNode(id) {
    this.setFocusable(id);
    this.svg.querySelectorAll(".arch-edge.lit").forEach((e) => e.classList.remove("lit"));
    this.svg.querySelectorAll(`.arch-edge[data-source="${id}"], .arch-edge[data-target="${id}"]`).forEach((e) => e.classList.add("lit"));
    this.reveal(this.byId.get(id));
    this.element(id)?.focus({ preventScroll: true });
  }

  // The node the arrow key leads to from `id`: along an edge (up, down) or across its layer.
  neighbour(id, key) {
    const node = this.byId.get(id);
    if (key === "ArrowDown" || key === "ArrowUp") {
      const list = (key === "ArrowDown" ? this.down : this.up).get(id);
      if (!list.length) return id;
      // The neighbour nearest straight below or above: a chain reads straight through.
      return list.reduce((best, other) => (Math.abs(this.byId.get(other).x - node.x) < Math.abs(this.byId.get(best).x - node.x) ? other : best));
    }
    const row = this.rows.get(node.layer);
    const at = row.indexOf(id) + (key === "ArrowRight" ? 1 : -1);
    return row[Math.max(0, Math.min(row.length - 1, at))];
  }

  wire() {
    this.svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      const r = this.svg.getBoundingClientRect();
      this.zoom(Math.exp(-event.deltaY * 0.0015), event.clientX - r.left, event.clientY - r.top);
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
      this.pan(-dx, -dy);
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
        this.onJump(this.byId.get(id));
      }
    };
    this.svg.addEventListener("pointerup", release);
    this.svg.addEventListener("pointercancel", release);
    this.svg.addEventListener("focusin", (event) => {
      const g = event.target.closest("g.arch-node");
      if (!g) return;
      this.setFocusable(Number(g.dataset.node));
      this.reveal(this.byId.get(Number(g.dataset.node)));
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
      this.pan(...pans[event.key]);
    } else if (event.key in pans) {
      const next = this.neighbour(Number(g.dataset.node), event.key);
      this.focusNode(next);
    } else if (event.key in zooms) {
      this.zoom(zooms[event.key]);
    } else if (event.key === "0") {
      this.fit();
    } else if (event.key === "Home" || event.key === "End") {
      const nodes = this.view.nodes;
      this.focusNode(nodes[event.key === "Home" ? 0 : nodes.length - 1].id);
    } else if ((event.key === "Enter" || event.key === " ") && g) {
      this.onJump(this.byId.get(Number(g.dataset.node)));
    } else {
      done = false;
    }
    if (done) event.preventDefault();
  }

  // The overview column that shows `node`: its own, or else the nearest one upstream (a
  // Flatten shows in the column of the pool before it). `has(tensor)` says if one exists.
  column(node, has) {
    const seen = new Set([node.id]);
    const queue = [node.id];
    while (queue.length) {
      const id = queue.shift();
      const here = this.byId.get(id);
      if (has(here.tensor)) return here;
      for (const up of this.up.get(id)) {
        if (!seen.has(up)) {
          seen.add(up);
          queue.push(up);
        }
      }
    }
    return null;
  }
}

// --- the page: the "Architecture" button, the section, the jump and the way back ---

const $ = (id) => document.getElementById(id);

function tileOf(tensor) {
  return $("overview").querySelector(`[data-layer="${CSS.escape(tensor)}"][data-channel]`);
}

function wirePage() {
  const button = $("architecture-button");
  const section = $("architecture");
  if (!button || !section) return;
  const back = html("button", { type: "button", id: "architecture-back", class: "arch-back", hidden: "" }, ["↑ Back to the architecture"]);
  document.body.append(back);
  let view = null;
  let shown = null;  // the overview's structure the drawing belongs to

  const jump = (node) => {
    const target = view.column(node, (tensor) => tileOf(tensor) !== null);
    if (!target) return;
    const tile = tileOf(target.tensor);
    const overview = window.cnnlens?.overview;
    const item = overview?.select(tile.dataset.layer, Number(tile.dataset.channel)) || tile;
    $("overview").querySelectorAll("section.column.arch-jumped").forEach((c) => c.classList.remove("arch-jumped"));
    item.closest("section.column")?.classList.add("arch-jumped");
    item.scrollIntoView({ block: "center", inline: "center" });
    item.focus({ preventScroll: true });
    back.hidden = false;
  };
  back.addEventListener("click", () => {
    back.hidden = true;
    section.scrollIntoView({ block: "start" });
    if (view?.current !== undefined) view.focusNode(view.current);
  });

  const load = async () => {
    const client = window.cnnlens?.client;
    if (!client) return;
    const structure = $("overview").dataset.structure;
    if (shown === structure && view) return;
    section.setAttribute("aria-busy", "true");
    try {
      const answer = await client.ask("architecture");
      if (!view) view = new ArchitectureView(section, { onJump: jump });
      view.render(answer.architecture);
      shown = structure;
    } catch (error) {
      section.replaceChildren(html("p", { class: "message", role: "alert" }, [explain(error)]));
      view = null;
    } finally {
      section.removeAttribute("aria-busy");
    }
  };

  button.addEventListener("click", async () => {
    const open = section.hidden;
    section.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (!open) {
      back.hidden = true;
      return;
    }
    await load();
    view?.focusNode(view.current);
  });
  // Another model: the drawing is redrawn when it is open, or when it opens next.
  new MutationObserver(() => {
    if (!section.hidden) load();
  }).observe($("overview"), { attributes: true, attributeFilter: ["data-structure"] });
}

wirePage();
