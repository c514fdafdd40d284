// The detail panel for one selected neuron: the view for its layer kind (convolution,
// ReLU, pooling, flatten + softmax for a class), or its plain numbers for anything else.
import { clearDetailEdges, drawDetailEdgesAfterOpening } from "./detail-edges.js";
import { el, fmt, Packed } from "./views/common.js";
import { convView } from "./views/conv.js";
import { flattenView, softmaxView } from "./views/flatten.js";
import { poolView } from "./views/pool.js";
import { reluView } from "./views/relu.js";

let cleanups = [];
let closings = 0;  // counts closes, so a view opened while a closing card fades stays open

// The open view's root carries data-testid="detail" (with data-layer, data-channel and
// data-kind of what it shows) for automation; a closed one carries none.
function opened(panel) {
  closings += 1;
  panel.dataset.testid = "detail";
  panel.hidden = false;
  panel.parentElement.querySelector(".detail-ghost")?.remove();
}

export function isOpen(panel) {
  return !panel.hidden && panel.dataset.testid === "detail";
}

const CLOSE_MS = 260;  // as the opening transition (app.css)

// Closes the panel at once (the page's state is closed: its address, the tabs, automation)
// and runs the opening transition reversed on a card of the panel's size that takes its
// place: it fades and shrinks while the overview's columns unfold (none when motion is
// reduced). Resolves once the card has gone, or when a view opened meanwhile has kept it.
export async function hideDetail(panel) {
  stopDetail();
  clearDetailEdges(panel);
  delete panel.dataset.testid;
  const mine = ++closings;
  const stage = panel.parentElement;
  const card = stage.querySelector(".detail-ghost") || el("div", { class: "detail-ghost", "aria-hidden": "true" });
  card.style.height = `${panel.offsetHeight}px`;
  card.replaceChildren(el("p", { class: "detail-ghost-title" }, panel.querySelector("#detail-title").textContent));
  panel.hidden = true;
  stage.append(card);
  if (!matchMedia("(prefers-reduced-motion: reduce)").matches) {
    const leave = card.animate([{ opacity: 1, transform: "none" }, { opacity: 0, transform: "scale(0.96)" }],
                               { duration: CLOSE_MS, easing: "ease-out", fill: "forwards" });
    await leave.finished.catch(() => null);
  }
  if (mine !== closings) return;
  card.remove();
  stage.classList.remove("in-place");
}

// Where the panel opens: on a wide screen inside the overview's box, in the room the
// overview makes around the neuron's column and the one feeding it (CNN Explainer's
// in-place view); on a narrow one below the overview, where the page scrolls to it.
const IN_PLACE = "(min-width: 1000px)";
const placed = new WeakSet();

export function placeDetail(panel, overview, layer, { dismiss, now = false } = {}) {
  const room = matchMedia(IN_PLACE).matches ? overview.expand(layer, { now }) : null;
  if (!room) overview.collapse({ now });
  panel.parentElement.classList.toggle("in-place", Boolean(room));
  if (room) {
    panel.parentElement.style.setProperty("--room-left", `${room.left}px`);
    panel.parentElement.style.setProperty("--room-right", `${room.right}px`);
  }
  if (placed.has(panel)) return;
  placed.add(panel);
  // A click on the faded overview (not on a tile) closes the view.
  overview.root.addEventListener("click", (event) => {
    if (overview.expanded && !event.target.closest("[data-channel]")) dismiss();
  });
  // The overview is measured again on a resize (Overview.fit, on the next frame): from its
  // columns at rest; then the room is made again for the new sizes.
  window.addEventListener("resize", () => {
    if (!isOpen(panel)) return;
    overview.collapse({ now: true });
    clearDetailEdges(panel);
    requestAnimationFrame(() => {
      if (!isOpen(panel)) return;
      placeDetail(panel, overview, panel.dataset.layer, { now: true });
      drawDetailEdgesAfterOpening(panel);
    });
  });
}

// Stops whatever the open view animates (called before another view replaces it).
export function stopDetail() {
  cleanups.forEach((f) => f());
  cleanups = [];
}


function numbers(rows) {
  const table = el("dl", { class: "numbers" });
  for (const [name, value] of rows) table.append(el("dt", {}, name), el("dd", {}, value));
  return table;
}

function enlarged(source) {
  const canvas = el("canvas", { class: "enlarged", width: source.width, height: source.height, "aria-hidden": "true" });
  canvas.getContext("2d").drawImage(source, 0, 0);
  return canvas;
}


const VIEWS = {
  conv: (packed, stop) => [convView(packed, stop)],
  relu: (packed) => [reluView(packed)],
  pool: (packed, stop) => [poolView(packed, stop)],
  flatten: (packed) => [flattenView(packed), softmaxView(packed.view.softmax, packed.view.channel)],
};

export function showDetail(panel, answer, source) {
  stopDetail();
  const packed = new Packed(answer);
  const view = packed.view;
  const build = VIEWS[view.kind];
  if (!build) {
    showNumbers(panel, view, source);
    return;
  }
  const titles = { conv: "convolution", relu: "ReLU", pool: "pooling", flatten: "flatten and output" };
  panel.querySelector("#detail-title").textContent = view.kind === "flatten"
    ? `${view.layer} · class ${view.channel}: ${view.name} (${titles.flatten})`
    : `${view.layer} · channel ${view.channel} (${titles[view.kind]})`;
  panel.querySelector(".detail-body").replaceChildren(...build(packed, (f) => cleanups.push(f)));
  panel.dataset.layer = view.layer;
  panel.dataset.channel = String(view.channel);
  panel.dataset.kind = view.kind;
  opened(panel);
  drawDetailEdgesAfterOpening(panel);
}

function showNumbers(panel, data, source) {
  const body = panel.querySelector(".detail-body");
  const title = panel.querySelector("#detail-title");
  if (data.kind === "output") {
    title.textContent = `${data.layer} · class ${data.channel}: ${data.name}`;
    body.replaceChildren(numbers([["logit", fmt(data.logit)], ["probability", `${(data.probability * 100).toFixed(2)}%`]]));
  } else {
    title.textContent = `${data.layer} · channel ${data.channel} (${data.kind})`;
    const parts = [];
    if (source) parts.push(enlarged(source));
    parts.push(numbers([
      ["size", data.shape.join(" × ")], ["min", fmt(data.min)], ["max", fmt(data.max)],
      ["mean", fmt(data.mean)], ["std", fmt(data.std)],
    ]));
    body.replaceChildren(...parts);
  }
  panel.dataset.layer = data.layer;
  panel.dataset.channel = String(data.channel);
  panel.dataset.kind = "neuron";
  opened(panel);
}
