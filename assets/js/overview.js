// Draws the overview view-model that Python computed (cnnlens/views/overview.py).
// No decisions here: layout comes from CSS, values and colours from Python.

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;  // always text, never HTML
  return node;
}

function fmt(x) {
  return Math.abs(x) >= 100 || x === 0 ? x.toFixed(0) : x.toPrecision(3);
}

function legend(column) {
  const { min, max, colors } = column.legend;
  const box = el("div", { class: "legend", "aria-label": `colour scale from ${fmt(min)} to ${fmt(max)}` });
  const bar = el("span", { class: "legend-bar" });
  bar.style.background = `linear-gradient(to right, ${colors.join(", ")})`;
  box.append(el("span", { class: "legend-min" }, fmt(min)), bar, el("span", { class: "legend-max" }, fmt(max)));
  return box;
}

function tileTitle(column, tile) {
  return `${column.name} channel ${tile.channel}: min ${fmt(tile.min)}, max ${fmt(tile.max)}`;
}

function spatialColumn(column) {
  const section = el("section", { class: `column kind-${column.kind}`, "data-layer": column.name, "data-kind": column.kind });
  const header = el("header");
  header.append(el("h3", {}, column.name), el("span", { class: "kind" }, `${column.op}`),
                el("span", { class: "shape" }, column.shape.join(" × ")));
  const tiles = el("div", { class: "tiles" });
  for (const tile of column.tiles) {
    const canvas = el("canvas", {
      class: "tile", width: column.width, height: column.height,
      "data-channel": tile.channel, role: "img", "aria-label": tileTitle(column, tile),
    });
    canvas.title = tileTitle(column, tile);
    tiles.append(canvas);
  }
  section.append(header, tiles);
  if (column.legend) section.append(legend(column));
  return section;
}

function outputColumn(output) {
  const section = el("section", { class: "column kind-output", "data-layer": output.name, "data-kind": "output" });
  const header = el("header");
  header.append(el("h3", {}, "output"), el("span", { class: "kind" }, "Softmax"),
                el("span", { class: "shape" }, `${output.classes.length} classes`));
  const list = el("ol", { class: "classes" });
  for (const cls of output.classes) {
    const item = el("li", {
      class: cls.index === output.top1 ? "class top" : "class",
      "data-class": cls.index, "data-probability": String(cls.probability), "data-logit": String(cls.logit),
    });
    const bar = el("span", { class: "bar" });
    bar.style.width = `${(cls.probability * 100).toFixed(2)}%`;
    item.append(el("span", { class: "name" }, cls.name), el("span", { class: "track" }), el("span", { class: "pct" }, `${(cls.probability * 100).toFixed(2)}%`));
    item.querySelector(".track").append(bar);
    list.append(item);
  }
  section.append(header, list);
  return section;
}

function structure(view) {
  return JSON.stringify([view.columns.map((c) => [c.name, c.shape]), view.output.classes.map((c) => c.name)]);
}

// Paints every tile from the one raster buffer: ImageData views into it, no per-pixel work.
function paint(root, view, rasters) {
  const columns = root.querySelectorAll("section.column[data-kind]:not([data-kind=output])");
  view.columns.forEach((column, i) => {
    const canvases = columns[i].querySelectorAll("canvas.tile");
    const size = column.width * column.height * 4;
    column.tiles.forEach((tile, k) => {
      const pixels = new Uint8ClampedArray(rasters.buffer, rasters.byteOffset + tile.offset, size);
      canvases[k].getContext("2d").putImageData(new ImageData(pixels, column.width, column.height), 0, 0);
      const label = tileTitle(column, tile);
      canvases[k].title = label;
      canvases[k].setAttribute("aria-label", label);
    });
    const old = columns[i].querySelector(".legend");
    if (column.legend && old) old.replaceWith(legend(column));
  });
}

// Builds the columns (only when the network's structure changed), then paints, all in
// one synchronous pass so no half-updated state is ever on screen.
export function renderOverview(root, view, rasters) {
  const key = structure(view);
  if (root.dataset.structure !== key) {
    const columns = view.columns.map(spatialColumn);
    root.replaceChildren(...columns, outputColumn(view.output));
    root.dataset.structure = key;
  } else {
    root.querySelector("section.kind-output").replaceWith(outputColumn(view.output));
  }
  paint(root, view, rasters);
}
