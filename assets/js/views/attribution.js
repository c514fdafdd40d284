// The attribution panel, "What it responds to" (cnnlens/views/attribution.py): for the
// selected neuron or class and the current image, one card per method with the input, the
// map and the map laid over the input, one opacity slider for all overlays, the Grad-CAM
// layer and each method's explanation and paper. Every number and colour comes from Python.
import { explain } from "../protocol.js";
import { el, legend, num, Packed } from "./common.js";

// cnnlens.methods.attribution.METHODS, in its order (tests/test_views_attribution.py checks).
export const METHODS = ["saliency", "gradient-x-input", "deconvnet", "guided", "gradcam", "guided-gradcam"];

// How many times each method's card has been drawn (data-cnnlens-method-ready).
const drawn = {};

function figure(node, caption) {
  const box = el("figure", { class: "method-figure" });
  box.append(node, el("figcaption", {}, caption));
  return box;
}

// The input with the map's transparent overlay on top; the slider sets the overlay's opacity.
function overlaid(data, name, opacity, label) {
  const box = el("div", { class: "method-overlay", role: "img", "aria-label": label });
  const under = data.canvas("input", [], { class: "map", "aria-hidden": "true" });
  const over = data.canvas(`${name}/overlay`, [], { class: "map over", "aria-hidden": "true" });
  over.style.opacity = String(opacity);
  box.append(under, over);
  return { box, over };
}

function paper(about) {
  const p = about.paper;
  const line = el("p", { class: "method-paper" });
  const link = el("a", { href: p.url, target: "_blank", rel: "noopener" }, p.title);
  const cite = el("cite");
  cite.append(link);
  line.append(`${p.authors} (${p.year}). `, cite, ".");
  return line;
}

function methodCard(data, entry, state) {
  const v = data.view;
  const [c] = v.input.shape;
  const target = v.target.label;
  const root = el("section", {
    class: "method-card", "data-testid": `method-${entry.name}`, "data-method": entry.name,
    "aria-labelledby": `method-title-${entry.name}`, tabindex: "0",
  });
  const heading = el("h4", { id: `method-title-${entry.name}` }, entry.title);
  const maps = el("div", { class: "method-maps" });
  const scale = entry.signed ? "blue: raises it, red: lowers it" : "darker: counts more for it";
  const shownLabel = entry.name === "gradcam"
    ? `Grad-CAM map of ${target} on ${v.cam_layer}, stretched to the input: ${scale}`
    : `${entry.title} map of ${target}${c > 1 ? ", summed over the colour channels" : ""}: ${scale}`;
  const map = data.canvas(entry.name, [], { class: "map", role: "img", "aria-label": shownLabel });
  const over = overlaid(data, entry.name, state.opacity, `${entry.title} map laid over the input image`);
  state.overlays.push(over.over);
  const caption = entry.name === "gradcam" ? `map (${v.cam_layer})` : c === 3 ? "map (R + G + B)" : c > 1 ? `map (${c} channels summed)` : "map";
  maps.append(
    figure(data.canvas("input", [], { class: "map", role: "img", "aria-label": "the input image as the network sees it" }), "input"),
    figure(map, caption), figure(over.box, "overlaid"));
  root.append(heading, maps);
  if (entry.channel_reach !== undefined && entry.reach > 0) {
    // Each input channel alone, all on one scale of their own (narrower than the sum's).
    const channels = el("div", { class: "method-channels" });
    for (let k = 0; k < c; k += 1) {
      const name = c === 3 ? ["red", "green", "blue"][k] : `channel ${k}`;
      channels.append(figure(data.canvas(`${entry.name}/channels`, [k], { class: "map", role: "img", "aria-label": `${entry.title}, ${name} channel alone` }), name));
    }
    const note = el("p", { class: "method-range" });
    note.append("each channel alone, coloured from −", num(entry.channel_reach), " to +", num(entry.channel_reach));
    root.append(channels, note);
  }
  if (entry.reach > 0) root.append(legend(entry.legend, `${entry.title} colours`, { zero: entry.signed }));
  const range = el("p", { class: "method-range" });
  if (entry.reach === 0) {
    range.append("zero everywhere: by this method nothing in this image moves the target");
  } else {
    range.append("values from ", num(entry.min), " to ", num(entry.max));
  }
  root.append(range, el("p", { class: "method-text" }, entry.text), paper(entry));

  // The numbers drawn, for readers' tools and tests: the engine's map as Python sent it.
  const { offset, shape } = v.arrays[entry.name];
  const size = shape.reduce((a, b) => a * b, 1);
  root.cnnlensNumbers = { shape, values: data.numbers.subarray(offset, offset + size) };
  root.dataset.shape = shape.join("x");
  return root;
}

// The controls above the cards: what the target is, Grad-CAM's layer and the opacity.
function controls(v, state, onCamLayer) {
  const bar = el("div", { class: "method-controls" });
  const about = el("p", { class: "method-target" });
  about.append("Which pixels of this image matter for ", el("strong", {}, v.target.label), "?");
  bar.append(about);
  if (v.cam_layers.length > 0 && v.methods.some((m) => m.name === "gradcam" || m.name === "guided-gradcam")) {
    const label = el("label", { for: "method-cam-layer" }, "Grad-CAM layer");
    const select = el("select", { id: "method-cam-layer" });
    for (const name of v.cam_layers) {
      const option = el("option", { value: name }, name);
      option.selected = name === v.cam_layer;
      select.append(option);
    }
    select.addEventListener("change", () => onCamLayer(select.value));
    const box = el("div", { class: "method-control" });
    box.append(label, select);
    bar.append(box);
  }
  const slider = el("input", { id: "method-opacity", type: "range", min: "0", max: "100", step: "5", value: String(Math.round(state.opacity * 100)) });
  const shown = el("output", { for: "method-opacity" }, `${Math.round(state.opacity * 100)}%`);
  slider.addEventListener("input", () => {
    state.opacity = Number(slider.value) / 100;
    shown.textContent = `${slider.value}%`;
    state.overlays.forEach((canvas) => { canvas.style.opacity = String(state.opacity); });
  });
  const box = el("div", { class: "method-control" });
  box.append(el("label", { for: "method-opacity" }, "Overlay opacity"), slider, shown);
  bar.append(box);
  return bar;
}

// Draws an attribution answer into `host`. state: {opacity, focus} (kept across redraws);
// onCamLayer(name) asks for the maps on another Grad-CAM layer.
export function attributionView(host, answer, state, onCamLayer) {
  const data = new Packed(answer);
  const v = data.view;
  state.overlays = [];
  const cards = el("div", { class: "method-cards" });
  for (const entry of v.methods) cards.append(methodCard(data, entry, state));
  host.replaceChildren(controls(v, state, onCamLayer), cards);
  host.dataset.layer = v.layer;
  host.dataset.channel = String(v.channel);
  host.dataset.camLayer = v.cam_layer;
  for (const node of cards.children) {
    const name = node.dataset.method;
    node.classList.toggle("focused", name === state.focus);
    node.setAttribute("aria-current", String(name === state.focus));
    drawn[name] = (drawn[name] || 0) + 1;
    node.dataset.cnnlensMethodReady = String(drawn[name]);
  }
  return v;
}

// The "What it responds to" tab (see methods.js for the method object it is): asks the
// worker's `attribution` request through the ordered queue and draws all six cards. A link's
// `view=<method>` marks and scrolls to that card; `cam=<layer>` picks Grad-CAM's layer.
export class AttributionPanel {
  // host: the tab's panel; client: protocol.js's Client; onChange(): the link changed.
  constructor(host, client, { onChange = () => {} } = {}) {
    this.host = host;
    this.client = client;
    this.onChange = onChange;
    this.views = ["attribution", ...METHODS];
    this.state = { opacity: 0.6, focus: null, camLayer: "", overlays: [] };
    this.target = null;
    // Clicking a card, or Enter on it, marks it: the address and the embed then name it.
    host.addEventListener("click", (event) => {
      const card = event.target.closest(".method-card");
      if (!card || event.target.closest("a")) return;
      this.focus(card.dataset.method, false);
    });
    host.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target.classList.contains("method-card")) this.focus(event.target.dataset.method, false);
    });
  }

  // Marks one card as the one a link names (null: none) and optionally scrolls to it.
  focus(name, scroll) {
    this.state.focus = name;
    for (const card of this.host.querySelectorAll(".method-card")) {
      card.classList.toggle("focused", card.dataset.method === name);
      card.setAttribute("aria-current", String(card.dataset.method === name));
      if (scroll && card.dataset.method === name) card.scrollIntoView({ block: "nearest" });
    }
    this.onChange();
  }

  link() {
    const link = { view: this.state.focus || "attribution" };
    if (this.state.camLayer) link.cam = this.state.camLayer;
    return link;
  }

  async show(layer, channel, link) {
    const key = `${layer}\n${channel}`;
    if (key !== this.target) this.state.camLayer = "";  // each target its own default
    this.target = key;
    if (link) {
      const view = link.get("view");
      this.state.focus = METHODS.includes(view) ? view : null;
      this.state.camLayer = link.get("cam") || "";
    }
    await this.#draw(layer, channel, link !== null);
  }

  async #draw(layer, channel, scroll) {
    this.host.setAttribute("aria-busy", "true");
    const started = performance.now();
    try {
      const answer = await this.client.ask("attribution", layer, channel, "all", this.state.camLayer);
      attributionView(this.host, answer, this.state, (cam) => {
        this.state.camLayer = cam;
        this.#draw(layer, channel, false).then(() => this.onChange());
      });
      performance.measure("cnnlens:attribution", { start: started, end: performance.now() });
      if (scroll && this.state.focus) this.focus(this.state.focus, true);
    } catch (error) {
      this.host.replaceChildren(el("p", { class: "message method-error", role: "alert" }, explain(error)));
    } finally {
      this.host.removeAttribute("aria-busy");
    }
  }
}
