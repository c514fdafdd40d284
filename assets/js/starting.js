// "Python is starting — 62%", shown where the reader acted on a prerendered overview before
// the runtime was up (a tile, an example, a control). The request itself is already queued
// (protocol.js's Client runs it once the worker answers); this only says why nothing has
// happened yet, and goes away when Python is ready.
const shown = new Map();  // where it is shown (a column, or the control it follows) → indicator
let percent = 0;
let finished = false;

const text = () => `Python is starting — ${percent}%`;

// fraction: how far the whole boot is (0 to 1).
export function startingProgress(fraction) {
  percent = Math.max(percent, Math.min(99, Math.floor(fraction * 100)));
  for (const element of shown.values()) element.textContent = text();
}

// Python answers from now on: every indicator goes.
export function startingDone() {
  finished = true;
  for (const element of shown.values()) element.remove();
  shown.clear();
}

function indicator() {
  const element = document.createElement("span");
  element.className = "python-starting";
  element.dataset.testid = "python-starting";
  element.setAttribute("role", "status");
  element.textContent = text();
  return element;
}

// A tile or class of the overview: the indicator floats just above it (its tooltip opens
// below), over the overview, so nothing in it moves. Anything else: it follows `anchor`.
export function showStarting(anchor) {
  if (finished || !anchor) return;
  const host = anchor.closest("#overview");
  const key = host || anchor;
  const old = shown.get(key);
  const element = old || indicator();
  shown.set(key, element);
  if (host) {
    element.classList.add("floating");
    const box = anchor.getBoundingClientRect();
    const frame = host.getBoundingClientRect();
    element.style.left = `${box.left - frame.left + host.scrollLeft}px`;
    element.style.top = `${box.top - frame.top + host.scrollTop - 4}px`;
    if (!old) host.append(element);
  } else if (!old) {
    anchor.after(element);
  }
}

// What Python must do, by where the reader acted: the overview's tiles and classes, the
// examples, the controls and forms that send a request, a dropped or pasted file. Listening on the document (capture) leaves
// their own handlers, which queue the request, as they are.
const TARGETS = "#overview canvas.tile, #overview li.class, #examples button.example, #architecture-button";
const CONTROLS = "#upload, #open-model, #range-mode, #model-select";

export function acceptEarly() {
  const anchorOf = (element) => (element.matches("#examples button.example") ? element.parentElement : element);
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element && event.target.closest(TARGETS);
    if (target) showStarting(anchorOf(target));
  }, true);
  document.addEventListener("keydown", (event) => {
    const target = event.target instanceof Element && event.target.closest(TARGETS);
    if (target && (event.key === "Enter" || event.key === " ")) showStarting(anchorOf(target));
  }, true);
  document.addEventListener("change", (event) => {
    const control = event.target instanceof Element && event.target.closest(CONTROLS);
    if (control) showStarting(control.closest("div") || control);
  }, true);
  document.addEventListener("submit", (event) => {
    if (event.target instanceof Element && event.target.matches("#url-form, #paste-form")) showStarting(event.target);
  }, true);
  for (const kind of ["drop", "paste"]) {
    document.addEventListener(kind, () => showStarting(document.getElementById("dropzone")), true);
  }
}
