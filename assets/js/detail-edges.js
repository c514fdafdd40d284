// The edges that join an in-place detail view to the overview around it (CNN Explainer's
// elastic view): a curve from each shown tile of the kept feeding column to the view's row
// for that channel, and one from the view's output to the clicked tile. Drawn once the
// opening transition has ended, gone at once on close; none when the view sits below the
// overview (narrow screens), where no column is beside it.
import { anchor, curve, edgePath } from "./edges.js";

const NS = "http://www.w3.org/2000/svg";

// Where the view's rows are: per input channel the element an edge enters, and the element
// the output edge leaves. Only these views show one row per feeding tile.
function ends(panel) {
  const body = panel.querySelector(".detail-body");
  if (panel.dataset.kind === "conv") {
    return {
      inputs: [...body.querySelectorAll(".elastic-row[data-input-channel]")].map((row) => [Number(row.dataset.inputChannel), row]),
      output: body.querySelector(".elastic-row[data-output]"),
    };
  }
  if (panel.dataset.kind === "relu" || panel.dataset.kind === "pool") {
    const maps = body.querySelectorAll(".formula-maps .map-box");  // input, then output
    return { inputs: [[Number(panel.dataset.channel), maps[0]]], output: maps[maps.length - 1] };
  }
  return null;
}

function layer(stage) {
  let svg = stage.querySelector(":scope > svg.detail-edges");
  if (!svg) {
    svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "detail-edges");
    svg.setAttribute("aria-hidden", "true");
    stage.append(svg);
  }
  return svg;
}

let drawn = 0;  // counts requests, so a view replaced or closed meanwhile draws none

export function clearDetailEdges(panel) {
  drawn += 1;
  const svg = panel.parentElement.querySelector(":scope > svg.detail-edges");
  if (!svg) return;
  svg.replaceChildren();
  // Sized for the stage it was drawn on: kept, it would widen the page after a resize (the
  // next view shows it before its own edges are drawn).
  svg.setAttribute("width", 0);
  svg.setAttribute("height", 0);
}

// Draws the edges for the view now open in place; nothing for a view below the overview.
export function drawDetailEdges(panel) {
  const stage = panel.parentElement;
  clearDetailEdges(panel);
  const at = ends(panel);
  if (!stage.classList.contains("in-place") || panel.hidden || !at) return;
  const kept = [...stage.querySelectorAll(".overview section.column:not(.faded)")];
  const own = kept.find((c) => c.dataset.layer === panel.dataset.layer);
  const feeding = kept.find((c) => c !== own);
  const tile = own?.querySelector(`[data-channel="${CSS.escape(panel.dataset.channel)}"]`);
  if (!feeding || !tile || !at.output) return;
  const svg = layer(stage);
  const box = stage.getBoundingClientRect();
  const zoom = stage.currentCSSZoom || 1;
  svg.setAttribute("width", stage.clientWidth);
  svg.setAttribute("height", stage.clientHeight);
  const edges = [];
  for (const [channel, row] of at.inputs) {
    const from = feeding.querySelector(`[data-channel="${channel}"]`);
    if (!from) continue;  // on another page of its column
    edges.push(edgePath(curve(anchor(from, box, "right", zoom), anchor(row, box, "left", zoom)),
      `${feeding.dataset.layer}:${channel}`, `view:${channel}`));
  }
  const out = edgePath(curve(anchor(at.output, box, "right", zoom), anchor(tile, box, "left", zoom)),
    "view:output", `${panel.dataset.layer}:${panel.dataset.channel}`);
  out.classList.add("output");
  svg.replaceChildren(...edges, out);
}

// Draws them once the panel's opening transition and the columns' moves have ended (no
// wait when motion is reduced); a view replaced or closed meanwhile draws none.
export function drawDetailEdgesAfterOpening(panel) {
  clearDetailEdges(panel);
  const token = drawn;
  requestAnimationFrame(async () => {
    const moving = [panel, ...panel.parentElement.querySelectorAll(".overview section.column")].flatMap((e) => e.getAnimations());
    await Promise.all(moving.map((a) => a.finished.catch(() => null)));
    if (drawn === token && panel.dataset.testid === "detail") drawDetailEdges(panel);
  });
}
