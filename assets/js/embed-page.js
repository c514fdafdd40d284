// One cnnlens view alone, for an <iframe> in a blog post or course page:
//   embed.html#view=overview|conv|relu|pool|class|playground&layer=…&channel=…&image=…&range=…
//     (&fit=width: the overview scaled down to the frame's width, prediction included; without
//     it a narrow frame scrolls sideways, and says so)
//   embed.html#view=saliency|gradient-x-input|deconvnet|guided|gradcam|guided-gradcam|attribution
//     &layer=…&channel=…&cam=… (one attribution card, or all six)
//   embed.html#view=maximize&layer=…&channel=…&target=…&seed=…&steps=…&lr=…&l2=…&jitter=…
//     &blur=…&sigma=…&clip=…&y=…&x=… (activation maximisation, run from the linked settings)
// Any of them takes &model=<id>: a model of the site's catalogue (assets/models/index.json);
// an unknown id is said and the bundled model shown.
// It boots only what the view needs, never takes focus or scrolls the host page, and tells
// the host its height (assets/embed.js on the host resizes the frame). It accepts no messages.
import { bootFraction } from "./boot-progress.js";
import { prerendered, prerenderedAnswer, sameAnswer } from "./prerendered.js";
import { decode } from "./protocol.js";
import { startPython } from "./runtime.js";
import { startingDone, startingProgress } from "./starting.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
const view = params.get("view") || "overview";
const DETAIL_KINDS = new Set(["conv", "relu", "pool", "class"]);
let draws = 0;
let modules = {};  // the view's own modules, once loaded (viewModules)

// Each frame loads only its view's modules: a blog post's frames load side by side, and a
// prerendered view is drawn only once they have (an ES module runs after all it imports).
async function viewModules() {
  if (view === "overview") return import("./overview.js");
  if (DETAIL_KINDS.has(view)) return import("./detail.js");
  if (view === "maximize") return import("./views/maximize.js");
  if (view === "playground") return {};
  return import("./views/attribution.js");  // attributionView, METHODS
}
const methods = () => modules.METHODS || [];

function status(text) {
  $("embed-status").textContent = text;
  $("embed-status").hidden = !text;
}

function fail(message) {
  status(`This cnnlens view could not start: ${message}`);
  document.documentElement.dataset.cnnlensFailed = "true";
}

function ready() {
  draws += 1;
  document.documentElement.dataset.cnnlensReady = String(draws);
}

// The host learns our height whenever it changes; "*" because the host's origin is unknown
// and the message carries nothing but a number and the frame's own address.
function reportHeight() {
  const send = () => parent.postMessage({ type: "cnnlens:height", height: Math.ceil(document.documentElement.scrollHeight), href: location.href }, "*");
  new ResizeObserver(send).observe(document.body);
  send();
}

function fullLink() {
  const link = new URLSearchParams(params);
  // The app opens a method's tab from view=<method>; the embed's other view names are its own.
  if (view !== "attribution" && view !== "maximize" && !methods().includes(view)) link.delete("view");
  $("open-full").href = `index.html#${link}`;
}

let overview = null;

// Draws an overview answer (decoded) into the frame, made on first use.
function drawOverview(answer) {
  const fit = params.get("fit") === "width" ? "width" : "none";
  // A frame too narrow for the whole network: say that the prediction is further right.
  const hint = () => {
    const o = $("overview");
    $("scroll-hint").hidden = fit === "width" || o.scrollWidth <= o.clientWidth + 1 || o.scrollLeft + o.clientWidth >= o.scrollWidth - 1;
  };
  if (!overview) {
    overview = new modules.Overview($("overview"), { onOpen: () => {}, fit });
    $("overview").hidden = false;
    new ResizeObserver(() => { if (fit === "width") overview.fit(); hint(); }).observe(document.body);
    $("overview").addEventListener("scroll", hint, { passive: true });
  }
  overview.render(answer.view, answer.rasters);
  overview.fit();
  hint();
}

function markPainted() {
  document.documentElement.dataset.cnnlensPainted = "prerendered";
  performance.mark("cnnlens:painted");
}

// The overview the link names, prerendered at build time (prerendered.js), drawn before
// Python starts; null when there is none for it.
async function paintOverview(loaded) {
  const [painted] = await Promise.all([prerendered({ model: params.get("model"), image: params.get("image"), range: params.get("range") }), loaded]);
  if (!painted) return null;
  drawOverview(painted.answer);
  markPainted();
  return painted;
}

const detailLayer = () => params.get("layer") || (view === "class" ? "logits" : "conv_1_1");
const detailChannel = () => Number(params.get("channel") || 0);

// The same for a detail view (conv, relu, pool, class): its stepping is the page's own, so
// it plays before Python is up.
async function paintDetail(loaded) {
  const want = { model: params.get("model"), image: params.get("image"), layer: detailLayer(), channel: detailChannel() };
  const [painted] = await Promise.all([prerenderedAnswer("detail", want), loaded]);
  if (!painted) return null;
  modules.showDetail($("detail"), painted.answer, null);
  markPainted();
  return painted;
}

// Both ask through protocol.js's client; an {error} answer throws its message. The live
// answer is drawn only where it differs from the prerendered one on screen.
async function showOverview(client, painting) {
  const raw = await client.send("mode", params.get("range") || "layer");
  const painted = await painting;
  if (!sameAnswer(painted, raw)) drawOverview(decode("mode", raw));
}

async function showView(client, painting) {
  const raw = await client.send("detail", detailLayer(), detailChannel());
  if (!sameAnswer(await painting, raw)) modules.showDetail($("detail"), decode("detail", raw), null);
}

// One attribution card (or all of them for view=attribution) for the linked target; its
// Grad-CAM layer can still be changed in the frame.
async function showAttribution(client) {
  const layer = params.get("layer") || "logits";
  const channel = Number(params.get("channel") || 0);
  const method = view === "attribution" ? "all" : view;
  const host = $("method-attribution-host");
  const state = { opacity: 0.6, focus: null };
  const draw = async (cam) => {
    const answer = await client.ask("attribution", layer, channel, method, cam);
    return modules.attributionView(host, answer, state, (other) => draw(other).catch((error) => fail(error.message)));
  };
  const shown = await draw(params.get("cam") || "");
  const title = method === "all" ? "what it responds to" : shown.methods[0].title;
  $("detail-title").textContent = `${shown.target.label} · ${title}`;
  host.hidden = false;
  $("detail").hidden = false;
}

// Activation maximisation with the link's settings; it keeps running (and can be stopped,
// changed and started again) after the first state is drawn.
async function showMaximize(client) {
  const host = $("method-maximize-host");
  host.hidden = false;
  $("detail").hidden = false;
  $("detail-title").textContent = "cnnlens · what excites it most";
  const panel = new modules.MaximizePanel(host, client);
  await panel.show(params.get("layer") || "conv_1_1", Number(params.get("channel") || 0), params);
}

async function boot() {
  reportHeight();
  const loaded = viewModules().then((found) => { modules = found; });
  let painting = null;
  if (view === "playground") {
    $("playground").hidden = false;
    // It paints its prerendered default setting, if any, and asks Python once booted (below).
    ({ painting } = await import("./playground.js"));
    painting = painting.then((painted) => { if (painted) markPainted(); return painted; });
  }
  const needModel = view !== "playground";
  if (view === "overview") painting = paintOverview(loaded);
  else if (DETAIL_KINDS.has(view)) painting = paintDetail(loaded);
  let painted = null;  // once the view is on screen, Python's start needs no words
  // The worker starts once the prerendered view is drawn, as the page's does (app.js): the
  // frames of one post share one main thread, and each worker's start took from their paints.
  const starting = startPython((key, label, progress) => {
    startingProgress(bootFraction(key, progress));
    if (!painted) status(`${label}…`);
  }, { needModel, after: Promise.resolve(painting).catch(() => null) });
  await loaded;
  fullLink();
  painted = await painting;
  if (painted) status("");
  const started = await starting;
  const { client } = started;
  let { examples } = started;
  let note = "";
  window.cnnlens = { client, python: client.python };
  startingDone();
  document.documentElement.dataset.cnnlensBooted = "true";
  if (needModel) {
    const model = params.get("model");
    const wanted = params.get("image");
    const pick = (list) => (list.some((e) => e.file === wanted) ? wanted : list[0].file);
    const entry = started.catalogue.find((e) => e.id === model);
    if (model && !entry) {
      note = `There is no model “${model}” in this site's catalogue; this view shows the bundled model instead.`;
    }
    if (entry && entry.id !== started.model) {
      // A model without examples of its own runs on the current image: give it one first.
      if (!entry.examples) await client.ask("example", pick(examples));
      status(`Opening ${entry.name}…`);
      ({ examples } = await client.ask("open_model", entry.id));
      if (entry.examples && wanted !== examples[0].file) await client.ask("example", pick(examples));
    } else {
      await client.ask("example", pick(examples));
    }
    if (view === "overview") await showOverview(client, painting);
    else if (DETAIL_KINDS.has(view)) await showView(client, painting);
    else if (view === "attribution" || methods().includes(view)) await showAttribution(client);
    else if (view === "maximize") await showMaximize(client);
    else throw new Error(`there is no view called “${view}”`);
  }
  status(note);
  if (view === "playground") {
    await new Promise((resolve) => {
      const wait = () => ($("playground").playground?.live ? resolve() : setTimeout(wait, 50));
      wait();
    });
  }
  ready();
}

// A host that changes the frame's address (its hash) gets the view it names.
window.addEventListener("hashchange", () => location.reload());

boot().catch((error) => fail(error.message || String(error)));
