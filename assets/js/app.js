// The page's JavaScript side: boot progress, DOM events, and the drawing entry points
// that Python (cnnlens/page.py) calls through `window.cnnlens`.
import { renderOverview } from "./overview.js";

const $ = (id) => document.getElementById(id);
const STAGES = ["runtime", "packages", "model", "forward", "draw"];
let handlers = null;
let redraws = 0;

function stage(key, label) {
  const index = STAGES.indexOf(key);
  $("boot-progress").value = index;
  if (label) $("boot-label").textContent = `${label}…`;
  for (const item of $("boot-stages").children) {
    const i = STAGES.indexOf(item.dataset.stage);
    item.className = i < index ? "done" : i === index ? "active" : "";
  }
  document.documentElement.dataset.cnnlensStage = key;
}

function fail(message) {
  $("boot-label").textContent = `cnnlens could not start: ${message}`;
  $("boot").classList.add("failed");
}

function showError(message) {
  const box = $("message");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("message").hidden = true;
  $("message").textContent = "";
}

function setExamples(json) {
  const list = $("examples");
  list.replaceChildren();
  for (const example of JSON.parse(json)) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "example";
    button.dataset.file = example.file;
    button.setAttribute("aria-label", `Example: ${example.label}`);
    button.title = example.label;
    const img = document.createElement("img");
    img.src = `assets/images/fashion-mnist/${example.file}`;
    img.alt = "";
    img.width = 40;
    img.height = 40;
    button.append(img);
    list.append(button);
  }
}

function markSelected(file) {
  for (const button of $("examples").children) {
    button.setAttribute("aria-pressed", String(button.dataset.file === file));
  }
}

function render(viewJson, rasters) {
  const view = JSON.parse(viewJson);
  renderOverview($("overview"), view, rasters);
  const top = view.output.classes[view.output.top1];
  $("top1").textContent = top.name;
  $("image-name").textContent = view.image;
  $("range-mode").value = view.mode;
  markSelected(view.image);
  if (redraws === 0) {
    stage("draw", "Ready");
    $("boot").hidden = true;
    $("app").hidden = false;
  }
  redraws += 1;
  document.documentElement.dataset.cnnlensReady = String(redraws);
}

async function sendFile(file) {
  if (!handlers || !file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  handlers.image(bytes, file.name);
}

function wire() {
  $("examples").addEventListener("click", (event) => {
    const button = event.target.closest("button.example");
    if (button && handlers) handlers.example(button.dataset.file);
  });
  $("upload").addEventListener("change", (event) => {
    sendFile(event.target.files[0]);
    event.target.value = "";  // choosing the same file again still fires change
  });
  $("range-mode").addEventListener("change", (event) => handlers && handlers.mode(event.target.value));
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

function connect(pyHandlers) {
  handlers = pyHandlers;
}

// PyScript reports its own loading steps; everything before Python runs is the runtime stage.
window.addEventListener("py:progress", (event) => {
  if (typeof event.detail === "string" && !document.documentElement.dataset.cnnlensStage?.match(/packages|model|forward|draw/)) {
    stage("runtime", event.detail.replace(/^Load(ing|ed) /, "Loading "));
  }
});
window.addEventListener("error", (event) => {
  if (!redraws) fail(event.message || "an unexpected error");
});

window.cnnlens = { stage, fail, showError, clearError, setExamples, connect, render };
stage("runtime", "Downloading the Python runtime");
wire();
