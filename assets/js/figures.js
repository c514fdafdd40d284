// The article's small live figures (ReLU, one max-pooling window, softmax, colour scales).
// Without JavaScript each <figure data-figure="name"> shows its static SVG
// (assets/figures/, made by build/article_figures.py from the same Python). Once the app has
// booted, this asks the worker's `figures` request through the one ordered queue (so the
// answer is for the image on screen) when the figures are in view and the overview was
// redrawn since the last ask (data-cnnlens-ready counts the redraws): an image switch with
// the article off-screen costs no figures, which would take about as long as the overview.
// Each figure's SVG (py/cnnlens/views/figures.py draws it) goes in place of the static one.
// Here only: inserting it, the readout, and stepping by pointer and keys.
import { el } from "./views/common.js";

const root = document.documentElement;
const figures = () => [...document.querySelectorAll("#article figure[data-figure]")];

// The SVG text Python made, as an element of this document (parsed as XML: no scripts run,
// and it holds no style attributes, which the Content-Security-Policy would refuse).
function parseSvg(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  if (doc.querySelector("parsererror")) throw new Error("the figure's SVG could not be read");
  return document.importNode(doc.documentElement, true);
}

// The figure's readout line under the drawing (created once, kept across redraws).
function readout(figure) {
  let line = figure.querySelector(".figure-readout");
  if (!line) {
    line = el("p", { class: "figure-readout", "aria-live": "polite", id: `${figure.id}-readout` });
    figure.querySelector("figcaption").before(line);
  }
  return line;
}

// Arrow keys, Home and End move `index` within 0..count-1; answers whether it handled the key.
function stepKey(event, index, count) {
  const moves = { ArrowRight: index + 1, ArrowDown: index + 1, ArrowLeft: index - 1, ArrowUp: index - 1, Home: 0, End: count - 1 };
  if (!(event.key in moves)) return null;
  event.preventDefault();
  return Math.min(Math.max(moves[event.key], 0), count - 1);
}

// ReLU: hovering a dot, or arrows on the focused drawing, shows that value's x → y.
function wireRelu(figure, svg, made) {
  const points = [...svg.querySelectorAll(".fig-point")];
  const line = readout(figure);
  let current = Number(figure.dataset.current || 0);
  if (!(current < points.length)) current = 0;
  const show = (index) => {
    current = index;
    figure.dataset.current = String(index);
    points.forEach((p, i) => p.classList.toggle("current", i === index));
    line.textContent = made.data.points[index].text;
  };
  points.forEach((p, i) => p.addEventListener("pointerenter", () => show(i)));
  svg.addEventListener("keydown", (event) => {
    const next = stepKey(event, current, points.length);
    if (next !== null) show(next);
  });
  show(current);
}

// Max pooling: a click on the drawing, the button, Enter or the arrow keys step through the
// windows. The drawing says which window is shown; the readout repeats it for screen readers.
function wirePool(figure, svg, made) {
  const steps = [...svg.querySelectorAll(".fig-step")];
  const line = readout(figure);
  line.classList.add("visually-hidden");
  let current = Number(figure.dataset.current || 0);
  if (!(current < steps.length)) current = 0;
  const show = (index) => {
    current = index;
    figure.dataset.current = String(index);
    steps.forEach((g, i) => g.setAttribute("visibility", i === index ? "visible" : "hidden"));
    line.textContent = made.data.steps[index];
  };
  let button = figure.querySelector(".figure-next");
  if (!button) {
    button = el("button", { type: "button", class: "figure-next", "data-testid": "figure-pool-next" }, "Next window");
    line.before(button);
  }
  const next = () => show((current + 1) % steps.length);
  button.onclick = next;
  svg.addEventListener("click", next);
  svg.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      next();
      return;
    }
    const index = stepKey(event, current, steps.length);
    if (index !== null) show(index);
  });
  show(current);
}

const WIRING = { relu: wireRelu, pool: wirePool };
// What each static figure shows, kept to restore it for a model without such a layer.
for (const figure of figures()) {
  const img = figure.querySelector("img.figure-art");
  figure.dataset.alt = img ? img.alt : "";
  figure.dataset.staticImage = figure.querySelector(".figure-image")?.textContent || "";
}
const HINTS = { relu: "arrow keys pick a value", pool: "arrow keys or Enter step through the windows" };

// Puts one figure's live SVG in place of what it shows now (the static <img> or the last SVG).
function draw(figure, made, image) {
  const name = figure.dataset.figure;
  const art = figure.querySelector(".figure-art");
  if (!made) {  // this model has no such layer: keep (or bring back) the bundled model's
    if (art.tagName.toLowerCase() !== "img") {
      const img = el("img", { class: "figure-art", src: `assets/figures/${name}.svg`, alt: figure.dataset.alt || "" });
      art.replaceWith(img);
    }
    figure.querySelector(".figure-next")?.remove();
    readout(figure).classList.remove("visually-hidden");
    readout(figure).textContent = `The model on screen has no layer this figure can draw; it shows the bundled model on ${figure.dataset.staticImage}.`;
    figure.dataset.live = "none";
    return;
  }
  const svg = parseSvg(made.svg);
  svg.setAttribute("class", `${svg.getAttribute("class")} figure-art`);
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.removeAttribute("aria-labelledby");
  svg.setAttribute("aria-label", made.description);
  if (WIRING[name]) {
    svg.setAttribute("tabindex", "0");
    svg.setAttribute("aria-roledescription", `interactive figure (${HINTS[name]})`);
    WIRING[name](figure, svg, made);
    svg.setAttribute("aria-describedby", `${figure.id}-readout`);
  }
  art.replaceWith(svg);
  figure.dataset.live = "true";
  if (!WIRING[name]) figure.querySelector(".figure-readout")?.remove();
  figure.dataset.image = image;
  const note = figure.querySelector(".figure-image");
  if (note) note.textContent = image;
  figure.dataset.drawn = String(Number(figure.dataset.drawn || 0) + 1);
}

let asked = 0;
let drawnFor = null;  // the data-cnnlens-ready count the figures on screen belong to
const inView = new Set();  // the figures on screen (or nearly)

async function refresh() {
  const ready = root.dataset.cnnlensReady;
  if (!inView.size || root.dataset.cnnlensBooted !== "true" || !window.cnnlens || ready === drawnFor) return;
  const mine = ++asked;
  let answer;
  try {
    answer = await window.cnnlens.client.ask("figures");
  } catch {
    return;  // the static figures stay; the page shows the worker's own errors
  }
  if (mine !== asked) return;  // a newer overview asked again meanwhile
  drawnFor = ready;
  const made = answer.figures;
  for (const figure of figures()) draw(figure, made[figure.dataset.figure], made.image);
  root.dataset.cnnlensFigures = String(Number(root.dataset.cnnlensFigures || 0) + 1);
}

if (figures().length) {
  new MutationObserver(refresh).observe(root, { attributes: true, attributeFilter: ["data-cnnlens-ready", "data-cnnlens-booted"] });
  // A margin, so that a reader scrolling down finds the figures already drawn.
  const seen = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) inView.add(entry.target);
      else inView.delete(entry.target);
    }
    refresh();
  }, { rootMargin: "200px 0px" });
  figures().forEach((figure) => seen.observe(figure));
}
