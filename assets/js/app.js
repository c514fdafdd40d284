// The page's JavaScript side: the boot, drawing what Python answers, the detail panel and the
// address; each control's own wiring is its module's (examples-strip.js, image-inputs.js, …).
// Python runs in a PyScript worker (py/worker.py) and owns all state; every request goes
// through the ordered queue of protocol.js and answers with the complete next view, or an
// error message while the current view stays.
import { BackendBar } from "./backend-bar.js";
import { clearError, showError, showNote } from "./banners.js";
import { fail, stage } from "./boot-progress.js";
import { hideDetail, isOpen, placeDetail, showDetail } from "./detail.js";
import { wireEmbedDialog } from "./embed-dialog.js";
import { examplesFolder, hasExample, markSelected, setExamples, wireExamples } from "./examples-strip.js";
import { fillFacts } from "./facts.js";
import { LiveCode } from "./live-code.js";
import { wireImageInputs } from "./image-inputs.js";
import { haltJob } from "./job.js";
import { MethodTabs } from "./methods.js";
import { readHash, restore as restoreLink, writeHash as writeLink } from "./links.js";
import { pastedPrototxt } from "./model-files.js";
import { ModelPicker } from "./model-picker.js";
import { PreprocessForm } from "./preprocess-form.js";
import { Overview } from "./overview.js";
import { prerendered, sameAnswer } from "./prerendered.js";
import { decode, explain } from "./protocol.js";
import { startClient } from "./runtime.js";
import { acceptEarly, startingDone } from "./starting.js";

const $ = (id) => document.getElementById(id);
let client = null;  // protocol.js's Client, once the first overview is drawn
let redraws = 0;
let current = null;  // the view on screen
let overview = null;
let tabs = null;  // the detail panel's method tabs (methods.js)
const picker = new ModelPicker({
  request: (name, ...args) => client.ask(name, ...args),
  draw: (answer) => {
    setExamples(answer.examples, answer.entry.examples || examplesFolder());
    show(answer);
  },
  ask: (name, ...args) => ask(name, ...args),
  current: () => current,
  showError,
  halt: haltJob,
  onChange: () => writeHash(),
});
const preprocessForm = new PreprocessForm($("preprocess-form"), $("preprocess-button"), {
  ready: () => client !== null,
  request: (name, ...args) => client.ask(name, ...args),
  apply: async (settings) => {
    haltJob();  // the new input ends the worker's job (a maximisation, an inversion, …)
    try {
      show(await client.ask("preprocess", settings));
    } catch (error) {
      return explain(error);
    }
    refreshDetail();
    return null;
  },
  onChange: () => writeHash(),
});

const backendBar = new BackendBar($("backend-bar"), {
  choose: async (choice) => {
    if (client && await ask("backend", choice)) refreshDetail();
  },
});

// The network's code and the kernel editor (live-code.js): an edit answers with the next overview.
const liveCode = new LiveCode($("live-code"), {
  draw: (answer) => {
    haltJob();  // the modified network ends the running job (a maximisation, an inversion, a dissection)
    show(answer);
    refreshDetail();
  },
  showError,
});

// The start answer's catalogue, model and examples: the picker owns the first two from now on.
function showStart({ catalogue, model, examples }) {
  picker.fill(catalogue, model);
  setExamples(examples, picker.entryOf(model).examples);
}

// Draws one OverviewAnswer (decoded): the whole overview in one synchronous pass.
// `painted`: the prerendered answer, drawn before Python is up (not yet the live view).
function show(answer, { painted = false } = {}) {
  const start = performance.now();
  const view = answer.view;
  current = view;
  overview.render(view, answer.rasters);
  $("top1").textContent = view.output.classes[view.output.top1].name;
  $("image-name").textContent = view.image;
  $("model-name").textContent = view.model.name;
  $("model-name").title = view.model.file;
  $("range-mode").value = view.mode;
  markSelected(view.image);
  fillFacts($("article"), view);
  picker.sync(view);
  preprocessForm.follow(view);
  clearError();
  showNote(view.note);
  liveCode.sync(view);
  backendBar.show(answer.backend);  // none in the prerendered answer: the live one says
  writeHash();
  if (painted) {
    revealApp();
    document.documentElement.dataset.cnnlensPainted = "prerendered";
    performance.mark("cnnlens:painted");
  } else {
    confirmLive(start);
  }
}

// The overview replaces the boot's progress once one is on screen.
function revealApp() {
  if (!$("app").hidden) return;
  $("boot").hidden = true;
  $("app").hidden = false;
  overview.fit();  // sizes are known only once the overview is on screen
}

// A live answer is on screen: drawn, or found equal to the prerendered one already drawn.
function confirmLive(start) {
  if (redraws === 0) {
    stage("draw", "Ready");
    revealApp();
    startingDone();
  }
  redraws += 1;
  document.documentElement.dataset.cnnlensReady = String(redraws);
  performance.mark(`cnnlens:ready:${redraws}`);
  performance.measure("cnnlens:render", { start, end: performance.now() });
}

// Sends a request that answers with an overview (example, image, model, mode) and draws
// the answer. The client's queue keeps the order: answers are drawn in the order asked.
// Resolves to whether it was drawn; a failure shows its message and the view stays.
async function ask(name, ...args) {
  // A new image or model ends the worker's job (maximisation, inversion, …): stop asking for it.
  if (name !== "mode") haltJob();
  try {
    show(await client.ask(name, ...args));
    return true;
  } catch (error) {
    showError(explain(error));
    return false;
  }
}

// --- selection, detail panel and the URL hash (what a shared link restores) ---

// The address follows the view on screen (links.js).
function writeHash() {
  if (!current) return;
  const panel = $("detail");
  writeLink({
    model: picker.id || current.model.file,
    image: current.image,
    range: current.mode,
    backend: backendBar.link(),
    preprocessing: preprocessForm.link(),
    detail: panel.hidden ? null : { layer: panel.dataset.layer, channel: panel.dataset.channel, method: tabs.link() },
  });
}

// Asked through the same queue as everything else, so it shows the state the requests
// before it left.
// `focus`: a click or Enter moves the reader into the view (scrolled into sight); the arrow
// keys and links only change what it shows.
async function openDetail(layer, channel, { focus = true } = {}) {
  let answer;
  try {
    answer = await client.ask("detail", layer, channel);
  } catch (error) {
    showError(explain(error));
    return;
  }
  const tile = $("overview").querySelector(`canvas.tile[data-layer="${CSS.escape(layer)}"][data-channel="${channel}"]`);
  // Placed before it is filled, so the view is laid out once, at the width it will have.
  placeDetail($("detail"), overview, layer, { dismiss: closeDetail });
  showDetail($("detail"), answer, tile);
  liveCode.kernels.follow(layer, channel, $("detail").dataset.kind);
  $("detail").dataset.opened = String(Number($("detail").dataset.opened || 0) + 1);
  if (focus) reveal($("detail"));
  writeHash();
  await tabs.setTarget(layer, channel);  // the open method tab shows this target too
}

// Brings the panel into sight (its top, when it starts below the middle of the screen or
// above it) and moves the focus into it, without a second scroll.
function reveal(panel) {
  const top = panel.getBoundingClientRect().top;
  if (top < 0 || top > innerHeight / 2) panel.scrollIntoView({ block: "start" });
  panel.focus({ preventScroll: true });
}

// The tile's column may be on its first page again (a new picture): `reveal` turns it back.
async function refreshDetail() {
  const panel = $("detail");
  if (isOpen(panel) && await overview.reveal(panel.dataset.layer, Number(panel.dataset.channel))
      && overview.select(panel.dataset.layer, Number(panel.dataset.channel))) {
    openDetail(panel.dataset.layer, Number(panel.dataset.channel), { focus: false });
  } else if (isOpen(panel)) {
    closeDetail();
  }
}

// The view is closed at once (address, focus back on its tile); its opening transition runs
// reversed on its own (hideDetail's closing card, the overview's columns unfolding).
function closeDetail() {
  const panel = $("detail");
  if (!isOpen(panel)) return;
  const item = overview.find(panel.dataset.layer, panel.dataset.channel);
  tabs.close();
  overview.collapse();
  hideDetail(panel);
  overview.clearSelection();
  writeHash();
  if (item) item.focus();
}

function restore(params) {
  return restoreLink(params, {
    picker,
    current: () => current,
    preprocess: (link) => preprocessForm.restore(link),
    hasExample,
    backend: () => backendBar.link(),
    ask,
    showError,
    openDetail: async (layer, channel, link) => {
      if (!(await overview.reveal(layer, channel)) || !overview.select(layer, channel)) return;
      // The tab the link names (view=saliency, …; none: the detail view) draws once the
      // detail is open, with the link's own settings.
      tabs.select(tabs.owner(link.get("view")) || "detail", { link, show: false });
      await openDetail(layer, channel, { focus: false });
    },
  });
}

function wire() {
  overview = new Overview($("overview"), {
    onOpen: (layer, channel) => client && openDetail(layer, channel),
    // An open detail view follows the arrow keys; the focus stays on the tiles.
    onMove: (layer, channel) => {
      if (!client || $("detail").hidden) return;
      overview.select(layer, channel);
      openDetail(layer, channel, { focus: false });
    },
    // Another page of a column's channels; a failure says why and the column stays.
    onPage: async (layer, channel) => {
      try {
        return client && await client.ask("channels", layer, channel);
      } catch (error) {
        showError(explain(error));
        return null;
      }
    },
  });
  wireExamples(async (file) => {
    if (!client) return;
    await ask("example", file);
    refreshDetail();
  });
  wireImageInputs({
    ready: () => client !== null,
    ask,
    refreshDetail,
    openModels: (files) => picker.openFiles(files).then(refreshDetail),
  });
  $("skip-link").addEventListener("click", (event) => {
    event.preventDefault();  // the address is the view's state, not a place to jump to
    $("overview").querySelector('[tabindex="0"]')?.focus();
  });
  tabs = new MethodTabs($("detail"), { onChange: writeHash });
  $("show-details").addEventListener("change", (event) => {
    $("overview").classList.toggle("show-details", event.target.checked);
    overview.redrawEdges();
  });
  $("detail-close").addEventListener("click", closeDetail);
  wireEmbedDialog({ current: () => current, tabs, picker, unhover: () => overview.unhover() });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDetail();
  });
  $("range-mode").addEventListener("change", async (event) => {
    if (!client) return;
    await ask("mode", event.target.value);
    refreshDetail();
  });
  $("paste-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (client && await picker.openFiles([pastedPrototxt($("paste-text").value)])) refreshDetail();
  });
  $("model-select").addEventListener("change", async (event) => {
    if (!client || !event.target.value) return;
    await picker.open(event.target.value);
    refreshDetail();
  });
}

// The prerendered overview of the state the address names (prerendered.js), drawn before
// Python starts; the requests that make it live are queued at once, ahead of anything the
// reader asks, and everything the reader asks waits in the same queue from now on.
async function paint(wanted, early) {
  const found = await prerendered({ model: wanted.get("model"), image: wanted.get("image"), range: wanted.get("range") });
  if (!found || found.state.model !== found.started.model) return null;
  found.live = early.send("example", found.state.image);
  if (found.state.range !== "layer") found.live = early.send("mode", found.state.range);
  found.live.catch(() => {});  // a failed boot says why (boot below)
  showStart(found.started);
  show(found.answer, { painted: true });
  client = early;
  acceptEarly();
  window.cnnlens = { client, python: client.python, ask, overview };
  return found;
}

async function boot() {
  const wanted = readHash();  // read before the first draw rewrites it
  // The worker starts once the prerendered overview is drawn: started alongside, its download
  // and compile took the two cores the paint needed, and the live overview came no sooner.
  let paintDone;
  const drawn = new Promise((resolve) => { paintDone = resolve; });
  const { client: started, started: loaded } = startClient(stage, { after: drawn });
  const painted = await paint(wanted, started).finally(paintDone);
  // The method tabs' panels (views/*.js) are loaded only now, while Python starts: a cold
  // visit's first paint waited for their modules too.
  const panels = Promise.all(["attribution", "maximize", "invert", "dissect"].map((name) => import(`./views/${name}.js`)));
  const { examples, catalogue: models, model } = await loaded;
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  // Painted: the strip and the picker are on screen already, perhaps in use; redone only
  // if the site's start answer is not the prerendered one.
  if (!painted || !same(painted.started, { model, examples, catalogue: models })) {
    showStart({ catalogue: models, model, examples });
  }
  stage("forward", "Running the network");
  if (painted) {
    const start = performance.now();
    const raw = await painted.live;
    if (sameAnswer(painted, raw)) {
      confirmLive(start);  // nothing to redraw but which backend ran it
      backendBar.show(JSON.parse(raw.backend));
    } else {
      show(decode("example", raw));
    }
  } else {
    const linked = wanted.get("image");
    show(await started.ask("example", examples.some((e) => e.file === linked) ? linked : examples[0].file));
  }
  client = started;  // the controls answer from now on
  const [{ AttributionPanel }, { MaximizePanel }, { InvertPanel }, { DissectPanel }] = await panels;
  tabs.register("attribution", new AttributionPanel($("method-attribution-host"), client, { onChange: writeHash }));
  tabs.register("maximize", new MaximizePanel($("method-maximize-host"), client, { onChange: writeHash }));
  tabs.register("invert", new InvertPanel($("method-invert-host"), client, { onChange: writeHash }));
  tabs.register("dissect", new DissectPanel($("method-dissect-host"), client, { onChange: writeHash }));
  await restore(wanted);
  liveCode.start(client).catch((error) => showError(explain(error)));
  // For automation and benchmarks: the same requests through the same queue (see
  // docs/ARCHITECTURE.md): `client.ask(name, ...)` decoded, `python.name(...)` raw,
  // `ask(name, ...)` an overview request drawn like the page's own.
  // `overview` lets the architecture view (architecture.js) select a layer's column.
  window.cnnlens = { client, python: client.python, ask, overview };
  document.documentElement.dataset.cnnlensBooted = "true";
  // Links inside the page (the article's) change only the hash: restore what they name.
  window.addEventListener("hashchange", async () => {
    await restore(readHash());
    ($("detail").hidden ? $("overview") : $("detail")).scrollIntoView({ block: "nearest" });
  });
}

wire();
boot().catch((error) => fail(error.message || String(error)));

// Opening a model: read locally and handed to Python in the worker; nothing is sent anywhere.
// An unusable model answers with a message and the current model and view stay.
$("open-model").addEventListener("change", async (event) => {
  const files = [...event.target.files];
  event.target.value = "";  // choosing the same files again still fires change
  if (!client || !files.length) return;
  await picker.openFiles(files);
  refreshDetail();
});
