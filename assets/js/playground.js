// The hyperparameter playground (embedded in the article): number inputs for n, p, k, s;
// Python (views/playground.py) answers with the output size, whether the setting tiles the
// input symmetrically (and why not), and the window origin of every step. This file only
// draws that answer in SVG and steps through it. In an embed (`data-paint="prerendered"`) the
// default setting's answer, prerendered at build time, is drawn before Python is up.
import { prerenderedAnswer, sameAnswer } from "./prerendered.js";
import { decode } from "./protocol.js";
import { showStarting } from "./starting.js";

const SVG = "http://www.w3.org/2000/svg";
const STEP_MS = 450;
const FIELDS = [
  { key: "n", label: "Input size n", min: 1, max: 16, value: 5 },
  { key: "p", label: "Padding p", min: 0, max: 4, value: 1 },
  { key: "k", label: "Kernel size k", min: 1, max: 9, value: 3 },
  { key: "s", label: "Stride s", min: 1, max: 5, value: 2 },
];

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// The protocol client (protocol.js), once the worker has booted (app.js and embed-page.js
// mark the <html> element then).
function whenBooted() {
  const root = document.documentElement;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (root.dataset.cnnlensBooted === "true" && window.cnnlens) {
        observer.disconnect();
        resolve(window.cnnlens.client);
      } else if (root.dataset.cnnlensFailed === "true") {
        observer.disconnect();
        reject(new Error("the Python runtime could not start"));
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(root, { attributes: true, attributeFilter: ["data-cnnlens-booted", "data-cnnlens-failed"] });
    check();
  });
}

class Playground {
  // client: the protocol client, or the promise of it while Python starts; painted: the
  // prerendered answer for the default setting (prerendered.js), drawn at once.
  constructor(root, client, painted = null) {
    this.root = root;
    this.client = Promise.resolve(client);
    this.booted = false;
    this.client.then(() => { this.booted = true; }, () => {});
    this.live = false;  // a live answer is on screen (or found equal to the painted one)
    this.view = null;
    this.step = 0;
    this.timer = null;
    this.asked = 0;
    this.build();
    if (painted) this.confirm(painted);
    else this.update();
  }

  // Draws the prerendered answer, then asks Python for the same setting: redrawn only if
  // the live answer differs, and only if no other setting was asked meanwhile.
  async confirm(painted) {
    const asked = ++this.asked;
    const { n, p, k, s } = this.values();
    this.root.dataset.setting = [n, p, k, s].join(",");
    this.view = painted.answer.playground;
    this.show(this.view);
    let raw;
    try {
      raw = await (await this.client).send("playground", n, p, k, s);
    } catch {
      return;  // Python could not start: the page says so
    }
    if (asked !== this.asked) return;
    if (!sameAnswer(painted, raw)) {
      try {
        this.view = decode("playground", raw).playground;
        this.show(this.view);
      } catch (error) {
        this.view = null;
        this.show({ valid: false, reason: `Cannot draw that: ${error.message}.`, formula: "", output: null, steps: [] });
      }
    }
    this.live = true;
  }

  build() {
    const form = el("form", { class: "pg-controls", "aria-label": "Hyperparameters" });
    this.inputs = {};
    for (const field of FIELDS) {
      const id = `pg-${field.key}`;
      const input = el("input", { id, type: "number", min: field.min, max: field.max, step: 1, value: field.value, "data-testid": id });
      const label = el("label", { for: id }, field.label);
      form.append(el("span", { class: "pg-field" }));
      form.lastChild.append(label, input);
      input.addEventListener("input", () => this.update());
      this.inputs[field.key] = input;
    }
    form.addEventListener("submit", (event) => event.preventDefault());
    this.formula = el("p", { class: "pg-formula", "data-testid": "pg-formula" });
    this.outputSize = el("output", { class: "pg-output", "data-testid": "pg-output", for: FIELDS.map((f) => `pg-${f.key}`).join(" ") });
    this.reason = el("p", { class: "pg-reason", role: "status", "data-testid": "pg-reason" });
    this.play = el("button", { type: "button", class: "pg-play", "aria-pressed": "false", "data-testid": "pg-play" }, "Play");
    this.next = el("button", { type: "button", class: "pg-next", "data-testid": "pg-next" }, "Next step");
    this.status = el("p", { class: "pg-status", "data-testid": "pg-status" });
    this.play.addEventListener("click", () => (this.timer ? this.pause() : this.start()));
    this.next.addEventListener("click", () => { this.pause(); this.advance(); });
    const result = el("p", { class: "pg-result" }, "Output size: ");
    result.append(this.outputSize);
    const buttons = el("div", { class: "pg-buttons" });
    buttons.append(this.play, this.next, this.status);
    this.figure = el("div", { class: "pg-figure" });
    this.root.replaceChildren(form, result, this.formula, this.reason, buttons, this.figure);
  }

  values() {
    return Object.fromEntries(FIELDS.map((f) => [f.key, Number(this.inputs[f.key].value === "" ? NaN : this.inputs[f.key].value)]));
  }

  async update() {
    const { n, p, k, s } = this.values();
    const asked = ++this.asked;
    if ([n, p, k, s].some(Number.isNaN)) {  // a box is empty while someone types
      this.pause();
      this.view = null;
      this.root.dataset.setting = "";
      this.show({ valid: false, reason: "Type a whole number in each box.", formula: "", output: null, steps: [] });
      return;
    }
    let answer = null;
    let failure = null;
    if (!this.booted) showStarting(this.root.querySelector(".pg-controls"));  // it waits in the queue
    try {
      answer = await (await this.client).ask("playground", n, p, k, s);
    } catch (error) {
      failure = error;
    }
    if (asked !== this.asked) return;  // a newer setting was asked meanwhile
    this.live = true;
    this.pause();
    this.root.dataset.setting = [n, p, k, s].join(",");  // which setting is on screen
    if (failure) {
      this.view = null;
      this.show({ valid: false, reason: `Cannot draw that: ${failure.message || failure}.`, formula: "", output: null, steps: [] });
      return;
    }
    this.view = answer.playground;
    this.show(this.view);
  }

  show(view) {
    this.step = 0;
    // A refused setting has no output size: its formula is shown as what it would give.
    this.formula.textContent = !view.formula ? "" : view.valid ? `Output size = ${view.formula}`
      : `The formula would give ${view.formula}, but this layer is refused:`;
    this.outputSize.textContent = view.valid ? `${view.output} × ${view.output}` : "refused";
    this.root.dataset.valid = String(view.valid);
    this.root.dataset.output = view.valid ? String(view.output) : "";
    this.root.dataset.steps = String(view.steps.length);
    this.reason.textContent = view.valid ? "" : view.reason;
    this.reason.hidden = view.valid;
    this.play.disabled = this.next.disabled = !view.valid;
    this.root.classList.toggle("refused", !view.valid);
    this.draw();
  }

  start() {
    if (!this.view || !this.view.valid) return;
    this.play.textContent = "Pause";
    this.play.setAttribute("aria-pressed", "true");
    this.timer = setInterval(() => this.advance(), STEP_MS);
  }

  pause() {
    clearInterval(this.timer);
    this.timer = null;
    this.play.textContent = "Play";
    this.play.setAttribute("aria-pressed", "false");
  }

  advance() {
    if (!this.view || !this.view.valid) return;
    this.step = (this.step + 1) % this.view.steps.length;
    this.place();
  }

  draw() {
    const view = this.view;
    if (!view) {
      this.figure.replaceChildren();
      this.status.textContent = "";
      return;
    }
    const cell = Math.max(12, Math.min(26, Math.floor(300 / view.padded)));
    const inside = (i) => i >= view.p && i < view.p + view.n;
    const size = view.padded * cell;
    const input = svg("svg", { class: "pg-input", viewBox: `-1 -1 ${size + 2} ${size + 2}`, width: size + 2, height: size + 2, role: "img",
      "aria-label": `Input ${view.n}×${view.n} with ${view.p} cells of zero padding on each side` });
    const hatch = svg("pattern", { id: "pg-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    hatch.append(svg("rect", { width: 6, height: 6, fill: "#fdecea" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#8a1c12", "stroke-width": 2 }));
    const defs = svg("defs");
    defs.append(hatch);
    input.append(defs);
    // Refused: the cells no window reaches (right and bottom), and the window where it stops.
    const missed = (i) => view.uncovered > 0 && i >= view.padded - view.uncovered;
    for (let r = 0; r < view.padded; r++) {
      for (let c = 0; c < view.padded; c++) {
        const pad = !(inside(r) && inside(c));
        const kind = `${pad ? "pad" : "cell"}${missed(r) || missed(c) ? " uncovered" : ""}`;
        input.append(svg("rect", { class: kind, x: c * cell, y: r * cell, width: cell, height: cell }));
        if (pad && cell >= 16) input.append(svg("text", { class: "zero", x: c * cell + cell / 2, y: r * cell + cell / 2 }, "0"));
      }
    }
    this.window = svg("rect", { class: "pg-window", width: Math.min(view.k, view.padded) * cell, height: Math.min(view.k, view.padded) * cell, x: 0, y: 0 });
    input.append(this.window);
    this.cell = cell;
    const parts = [el("figure", { class: "pg-panel" })];
    parts[0].append(input, el("figcaption", {}, `Padded input ${view.padded}×${view.padded} (padding cells are zeros)`));
    this.outputCells = [];
    if (view.valid) {
      const osize = view.output * cell;
      const output = svg("svg", { class: "pg-grid-out", viewBox: `-1 -1 ${osize + 2} ${osize + 2}`, width: osize + 2, height: osize + 2, role: "img",
        "aria-label": `Output ${view.output}×${view.output}` });
      for (let r = 0; r < view.output; r++) {
        for (let c = 0; c < view.output; c++) {
          const rect = svg("rect", { class: "out", x: c * cell, y: r * cell, width: cell, height: cell });
          output.append(rect);
          this.outputCells.push(rect);
        }
      }
      const figure = el("figure", { class: "pg-panel" });
      figure.append(output, el("figcaption", {}, `Output ${view.output}×${view.output}`));
      parts.push(figure);
    }
    this.figure.replaceChildren(...parts);
    this.place();
  }

  place() {
    const view = this.view;
    if (!view.valid) {
      delete this.root.dataset.step;
      const last = view.last ?? 0;
      this.window.setAttribute("x", last * this.cell);
      this.window.setAttribute("y", last * this.cell);
      this.status.textContent = view.uncovered
        ? `The last window starts at column ${last}; the ${view.uncovered} right-most column(s) and bottom row(s), hatched, are never fully covered.`
        : "";
      return;
    }
    const [row, col] = view.steps[this.step];
    this.window.setAttribute("x", col * this.cell);
    this.window.setAttribute("y", row * this.cell);
    this.outputCells.forEach((rect, i) => rect.classList.toggle("current", i === this.step));
    this.root.dataset.step = String(this.step);
    this.root.dataset.window = `${row},${col}`;
    this.status.textContent = `Step ${this.step + 1} of ${view.steps.length}: window at row ${row}, column ${col} of the padded input`;
  }
}

const root = document.getElementById("playground");
const DEFAULTS = Object.fromEntries(FIELDS.map((f) => [f.key, f.value]));
// The prerendered answer drawn before Python is up (null when none, or not asked for).
export const painting = root?.dataset.paint === "prerendered"
  ? prerenderedAnswer("playground", DEFAULTS) : Promise.resolve(null);
if (root) {
  root.replaceChildren(el("p", { class: "pg-loading", "data-testid": "pg-loading" }, "Loading… (the playground starts once Python is running)"));
  const booted = whenBooted();
  painting.then((painted) => {
    if (painted && !root.playground) root.playground = new Playground(root, booted, painted);
  });
  booted.then(
    (client) => { root.playground ??= new Playground(root, client); },
    (error) => { root.replaceChildren(el("p", { class: "pg-reason" }, `The playground cannot run: ${error.message}.`)); },
  );
}
