// The overview's columns as DOM: a spatial layer's header, the tiles of the channels it
// shows, its pager, legends and details; the output's classes. overview.js builds the
// overview from them and handles pointing; nothing here decides a value or a colour.
import { el, fmt, legend } from "./views/common.js";

export function tileLabel(column, tile) {
  return `${column.title}, channel ${tile.channel}: values from ${fmt(tile.min)} to ${fmt(tile.max)}`;
}

// Dimensions and parameters, shown with "Network details".
export function details(column) {
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
export function legends(column) {
  const box = el("div", { class: "legends" });
  box.append(column.kind === "input" ? compactLegend(column.legend, "pixels", "pixels")
    : compactLegend(column.legend, "activations", "activations"));
  if (column.weights) box.append(compactLegend(column.weights, "weights", "weights"));
  return box;
}

// The channels the column shows: all of them, or a page (Python decides how many).
export function tileList(column) {
  const tiles = el("div", { class: "tiles" });
  for (const tile of column.tiles) {
    tiles.append(el("canvas", {
      class: "tile", width: column.width, height: column.height, tabindex: "-1",
      "data-layer": column.name, "data-channel": tile.channel, role: "button", "aria-label": tileLabel(column, tile),
    }));
  }
  return tiles;
}

export const shownRange = (column) => [column.tiles[0].channel, column.tiles.at(-1).channel + 1];

// Under a column that shows a page of its channels (or classes): which ones, "‹" for the
// page before and "+ 496 more" for the next (on the last page, back to the first).
// Positions `first`..`stop` of `count` are shown; `at(position)` is the channel there, and
// each button's data-page a channel of the page it shows. Without a worker to ask for a
// column's pages (`turnable` false: an embed), only which channels are shown.
function pager({ name, title, count, first, stop, at, noun, base = 0 }, turnable) {
  const box = el("div", { class: "pager", "data-layer": name });
  const shown = `${first + base} to ${stop - 1 + base} of ${count}`;
  box.append(el("span", { class: "shown", "aria-hidden": "true" }, `${first + base}–${stop - 1 + base} of ${count}`));
  if (!turnable) return box;
  const button = (role, page, text, label) => el("button", {
    type: "button", class: "secondary", tabindex: "-1", "data-layer": name, "data-role": role,
    "data-page": page, "aria-label": `${title}: ${label}`, title: label,
  }, text);
  if (first > 0) box.append(button("previous", at(first - 1), "‹", `show the ${noun} before these (${shown} shown)`));
  const more = count - stop;
  box.append(more > 0
    ? button("next", at(stop), `+ ${more} more`, `show the next ${noun} (${more} more; ${shown} shown)`)
    : button("next", at(0), "↺ first", `show the first ${noun} again (${shown} shown)`));
  return box;
}

export const paged = (column) => column.tiles.length < column.shape[0];

export function channelPager(column, turnable) {
  const [first, stop] = shownRange(column);
  return pager({ name: column.name, title: column.title, count: column.shape[0], first, stop, at: (k) => k, noun: "channels" }, turnable);
}

export function spatialColumn(column, turnable) {
  const section = el("section", { class: `column kind-${column.kind}`, "data-layer": column.name, "data-kind": column.kind, "aria-label": column.label });
  const header = el("header");
  header.append(el("h3", { title: column.title }, column.title), el("span", { class: "kind" }, column.op),
                el("span", { class: "shape" }, column.shape.join(" × ")));
  section.append(header, tileList(column));
  if (paged(column)) section.append(channelPager(column, turnable));
  section.append(legends(column), details(column));
  return section;
}

// The classes from rank `first` on, a page of them (`page`), in the order Python listed.
export function outputColumn(output, first, page) {
  const section = el("section", { class: "column kind-output", "data-layer": output.name, "data-kind": "output", "aria-label": `output (${output.title}): class probabilities` });
  const header = el("header");
  header.append(el("h3", { title: output.title }, "output"), el("span", { class: "kind" }, output.op),
                el("span", { class: "shape" }, `${output.classes.length} classes`));
  const list = el("ol", { class: "classes" });
  const stop = Math.min(first + page, output.order.length);
  for (const cls of output.order.slice(first, stop).map((k) => output.classes[k])) {
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
  section.append(header, list);
  if (stop - first < output.order.length) {
    section.append(pager({ name: output.name, title: "output", count: output.order.length, first, stop,
                           at: (rank) => output.order[rank], noun: "classes (by probability)", base: 1 }, true));
  }
  section.append(box);
  return section;
}
