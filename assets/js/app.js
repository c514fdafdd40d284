// The page's JavaScript side: boot progress, DOM events, and drawing what Python answers.
// Python runs in a PyScript worker (py/worker.py) and owns all state; every request
// returns the complete next view, or an error message while the current view stays.
import { PyWorker } from "../../build/vendor/pyscript/core.js";
import { renderOverview } from "./overview.js";

const $ = (id) => document.getElementById(id);
const here = (path) => new URL(path, document.baseURI).href;
const STAGES = ["runtime", "packages", "model", "forward", "draw"];
let python = null;
let redraws = 0;
let queue = Promise.resolve();

function stage(key, label) {
  const index = STAGES.indexOf(key);
  $("boot-progress").value = index;
  if (label) $("boot-label").textContent = `${label}…`;
  for (const item of $("boot-stages").children) {
    const i = STAGES.indexOf(item.dataset.stage);
    item.className = i < index ? "done" : i === index ? "active" : "";
  }
  document.documentElement.dataset.cnnlensStage = key;
  performance.mark(`cnnlens:stage:${key}`);
}

function fail(message) {
  $("boot-label").textContent = `cnnlens could not start: ${message}`;
  $("boot").classList.add("failed");
  document.documentElement.dataset.cnnlensFailed = "true";
}

function showError(message) {
  $("message").textContent = message;
  $("message").hidden = false;
}

function clearError() {
  $("message").hidden = true;
  $("message").textContent = "";
}

function setExamples(examples) {
  const buttons = examples.map((example) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "example";
    button.dataset.file = example.file;
    button.setAttribute("aria-label", `Example: ${example.label}`);
    button.title = example.label;
    const img = document.createElement("img");
    img.src = `assets/images/fashion-mnist/${example.file}`;
    img.alt = "";
    img.width = 32;
    img.height = 32;
    button.append(img);
    return button;
  });
  $("examples").replaceChildren(...buttons);
}

function markSelected(file) {
  for (const button of $("examples").children) {
    button.setAttribute("aria-pressed", String(button.dataset.file === file));
  }
}

// Draws one answer from Python: the whole overview in one synchronous pass.
function show(answer) {
  if (answer.error !== undefined) {
    showError(answer.error);
    return false;
  }
  const start = performance.now();
  const view = JSON.parse(answer.view);
  renderOverview($("overview"), view, answer.rasters);
  $("top1").textContent = view.output.classes[view.output.top1].name;
  $("image-name").textContent = view.image;
  $("range-mode").value = view.mode;
  markSelected(view.image);
  clearError();
  if (redraws === 0) {
    stage("draw", "Ready");
    $("boot").hidden = true;
    $("app").hidden = false;
  }
  redraws += 1;
  document.documentElement.dataset.cnnlensReady = String(redraws);
  performance.mark(`cnnlens:ready:${redraws}`);
  performance.measure("cnnlens:render", { start, end: performance.now() });
  return true;
}

// Requests run one after another, so answers are drawn in the order they were asked.
function ask(request) {
  const result = queue.then(request).then(show, (error) => {
    showError(`Something went wrong inside cnnlens: ${error.message || error}`);
    return false;
  });
  queue = result;
  return result;
}

async function sendFile(file) {
  if (!python || !file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  ask(() => python.image(bytes, file.name));
}

function wire() {
  $("examples").addEventListener("click", (event) => {
    const button = event.target.closest("button.example");
    if (button && python) ask(() => python.example(button.dataset.file));
  });
  $("upload").addEventListener("change", (event) => {
    sendFile(event.target.files[0]);
    event.target.value = "";  // choosing the same file again still fires change
  });
  $("range-mode").addEventListener("change", (event) => {
    if (python) ask(() => python.mode(event.target.value));
  });
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    sendFile(event.dataTransfer.files[0]);
  });
}

async function boot() {
  stage("runtime", "Starting the Python runtime");
  const worker = await PyWorker(here("py/worker.py"), {
    config: here("assets/pyscript.json"),
    version: here("build/vendor/pyodide/pyodide.mjs"),
    async: true,
  });
  const sync = worker.sync;
  stage("packages", "Loading NumPy and Pillow");
  await sync.load_packages();
  stage("model", "Loading the model");
  const started = await sync.start(here("./"));
  if (started.error !== undefined) throw new Error(started.error);
  setExamples(JSON.parse(started.examples));
  stage("forward", "Running the network");
  const first = await sync.example(JSON.parse(started.examples)[0].file);
  if (!show(first)) throw new Error(first.error);
  python = sync;
  // For automation and benchmarks: the same requests the page makes.
  window.cnnlens = { python: sync, ask };
}

wire();
boot().catch((error) => fail(error.message || String(error)));
