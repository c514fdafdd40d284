// The graph's shape as the keyboard walks it: each node's neighbours up and down its edges
// and across its layer (left to right, as drawn), and the overview column that shows a node.

export class Graph {
  constructor(view) {
    this.nodes = view.nodes;
    this.byId = new Map(view.nodes.map((node) => [node.id, node]));
    this.up = new Map(view.nodes.map((node) => [node.id, []]));
    this.down = new Map(view.nodes.map((node) => [node.id, []]));
    for (const edge of view.edges) {
      this.down.get(edge.source).push(edge.target);
      this.up.get(edge.target).push(edge.source);
    }
    const byX = (a, b) => this.byId.get(a).x - this.byId.get(b).x;
    for (const list of [...this.up.values(), ...this.down.values()]) list.sort(byX);
    this.rows = new Map();
    for (const node of view.nodes) {
      if (!this.rows.has(node.layer)) this.rows.set(node.layer, []);
      this.rows.get(node.layer).push(node.id);
    }
    for (const row of this.rows.values()) row.sort(byX);
  }

  node(id) {
    return this.byId.get(id);
  }

  // The node an arrow key leads to from `id`: along an edge (up, down) or across its layer.
  neighbour(id, key) {
    const node = this.byId.get(id);
    if (key === "ArrowDown" || key === "ArrowUp") {
      const list = (key === "ArrowDown" ? this.down : this.up).get(id);
      if (!list.length) return id;
      // The neighbour nearest straight below or above: a chain reads straight through.
      const offset = (other) => Math.abs(this.byId.get(other).x - node.x);
      return list.reduce((best, other) => (offset(other) < offset(best) ? other : best));
    }
    const row = this.rows.get(node.layer);
    const at = row.indexOf(id) + (key === "ArrowRight" ? 1 : -1);
    return row[Math.max(0, Math.min(row.length - 1, at))];
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
