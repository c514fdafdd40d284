// The page's side of the architecture view (architecture/view.js): the "Architecture"
// button and <section id="architecture">, the jump to a node's overview column with a button
// there that comes back, and a redraw when another model is shown.

import { html } from "./architecture/elements.js";
import { explain } from "./protocol.js";

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
      // The view's modules load on the first opening: the page's first paint needs none.
      const [answer, { ArchitectureView }] = await Promise.all([client.ask("architecture"), import("./architecture/view.js")]);
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
