// The "What it keeps" tab: network inversion (cnnlens/views/invert.py). Python searches,
// from seeded noise, for an input whose activations at the selected tile's layer match the
// image's; the page asks for one short chunk of steps at a time (job.js) and draws each
// answer: the original beside the reconstructions (one; or plain, binarised and dropped
// out; or one per layer), each with its relative errors, the loss per step and the
// progress. Stop pauses, Resume continues, Cancel drops the job; a new layer, image or
// model, or Start again, ends the running one.
import { JobRunner } from "../job.js";
import { explain } from "../protocol.js";
import { el, fmt, Packed, paper } from "./common.js";
import { InvertSettings } from "./invert-settings.js";
import { StepPlot } from "./step-plot.js";

// How many times the panel has drawn (data-cnnlens-method-ready).
let drawn = 0;

export class InvertPanel {
  // host: the tab's panel; client: protocol.js's Client; onChange(): the link changed.
  constructor(host, client, { onChange = () => {} } = {}) {
    this.host = host;
    this.onChange = onChange;
    this.views = ["invert"];
    this.layer = null;
    this.pausedBy = null;
    this.root = el("section", { class: "maximize invert", "data-testid": "method-invert", "aria-labelledby": "invert-title" });
    this.title = el("h3", { id: "invert-title", class: "maximize-title" }, "What this layer keeps");
    this.settings = new InvertSettings({
      onStart: () => this.start(),
      onPauseResume: () => (this.state === "running" ? this.pause() : this.resume()),
      onCancel: () => this.runner.cancel(),
    });
    this.progress = el("progress", { class: "maximize-progress", max: "1", value: "0", "aria-labelledby": "invert-status" });
    this.status = el("p", { id: "invert-status", class: "maximize-status", role: "status", "aria-live": "polite" }, "");
    this.message = el("p", { class: "message method-error", role: "alert" });
    this.message.hidden = true;
    this.pictures = el("div", { class: "maximize-pictures invert-pictures" });
    this.plot = new StepPlot({
      caption: (values, n, goal, last) => (n > 1
        ? `Each reconstruction's loss after each step (${last} of ${goal} so far).`
        : `The loss after each step: ${fmt(values[0])} on the starting noise, ${fmt(values[last])} at step ${last}.`),
    });
    const result = el("div", { class: "maximize-result" });
    result.append(this.pictures, this.plot.root);
    this.about = el("div", { class: "maximize-about" });
    this.root.append(this.title, this.settings.root, this.progress, this.status, this.message, result, this.about);
    host.replaceChildren(this.root);
    this.runner = new JobRunner(client, {
      draw: (answer, first) => this.#draw(answer, first),
      onState: (state) => this.#showState(state),
      onError: (error) => {
        this.message.textContent = explain(error);
        this.message.hidden = false;
      },
    });
  }

  get state() {
    return this.runner.state;
  }

  // --- methods.js's calls ---

  link() {
    return this.settings.link();
  }

  // Shows the tab for a tile's layer (its channel does not matter: the whole layer is
  // inverted). For the layer already shown it keeps what is there (a run goes on; one
  // paused by leaving the tab resumes); otherwise, or for a link, it starts a run.
  async show(layer, _channel, link) {
    const same = this.layer === layer;
    this.layer = layer;
    if (link) this.settings.readLink(link);
    else if (same && this.state !== "idle") {
      if (this.state === "paused" && this.pausedBy === "tab") this.resume();
      return;
    }
    await this.start();
  }

  // Another tab replaces this one: pause (coming back continues).
  stop() {
    if (this.state !== "running") return;
    this.runner.pause();
    this.pausedBy = "tab";
  }

  // A new image or model: the worker drops the job; showing the tab again starts afresh.
  halt() {
    this.runner.halt();
  }

  // --- the job ---

  async start() {
    if (!this.layer) return;
    this.settings.read();
    const { mode, seed, steps } = this.settings.values;
    this.pausedBy = null;
    await this.runner.start("invert_start", this.layer, mode, this.settings.json(), seed, steps);
  }

  pause() {
    this.pausedBy = "user";
    this.runner.pause();
  }

  resume() {
    this.pausedBy = null;
    this.runner.resume();
  }

  #showState(state) {
    this.root.dataset.state = state;
    this.settings.showState(state);
    this.host.setAttribute("aria-busy", String(state === "starting"));
    if (state !== "failed") this.message.hidden = true;
    this.#writeStatus();
  }

  #writeStatus() {
    const v = this.view;
    if (!v) {
      this.status.textContent = this.state === "starting" ? "Starting…" : "";
      return;
    }
    const each = v.parts.length > 1 ? ` for each of ${v.parts.length} reconstructions` : "";
    const loss = v.parts.length > 1 ? "" : ` · loss ${fmt(v.parts[0].loss)}`;
    const rate = this.rate ? ` · ${this.rate.toFixed(1)} steps/s` : "";
    const said = { paused: " · stopped", done: " · done", cancelled: " · cancelled" }[this.state] || "";
    this.status.textContent = `step ${v.step} / ${v.goal}${each}${loss}${rate}${said}`;
  }

  // --- drawing ---

  #draw(answer, first) {
    const began = performance.now();
    const data = new Packed(answer);
    const v = data.view;
    this.view = v;
    if (first) {
      this.#layout(v);
      this.started = performance.now();
      this.startSteps = v.steps_run;
      this.onChange();
    }
    const seconds = (performance.now() - this.started) / 1000;
    // Steps per second of each reconstruction (one step of every part counts once).
    this.rate = !first && seconds > 0 ? (v.steps_run - this.startSteps) / v.parts.length / seconds : 0;
    const numbers = (name) => {
      const { offset, shape } = v.arrays[name];
      return { shape, values: data.numbers.subarray(offset, offset + shape.reduce((a, b) => a * b, 1)) };
    };
    this.#paint(this.canvases[0], data, "original", 0);
    v.parts.forEach((part, k) => {
      this.#paint(this.canvases[k + 1], data, "pictures", k);
      this.errors[k].input.textContent = `input error ${fmt(part.input_error)}`;
      this.errors[k].activation.textContent = `activation error ${fmt(part.activation_error)}`;
    });
    const losses = numbers("losses");
    this.plot.draw(losses.values, v.parts.length, v.goal, v.loss_range);
    this.progress.max = v.steps_total || 1;
    this.progress.value = v.steps_run;
    this.#writeStatus();
    // The numbers drawn, for readers' tools and tests: the engine's as Python sent them.
    this.root.cnnlensNumbers = { original: numbers("original"), pictures: numbers("pictures"), losses };
    Object.assign(this.root.dataset, { step: String(v.step), goal: String(v.goal), done: String(v.done), seed: String(v.seed), layer: v.layer, mode: v.mode });
    drawn += 1;
    this.root.dataset.cnnlensMethodReady = String(drawn);
    performance.measure("cnnlens:invert-draw", { start: began, end: performance.now() });
  }

  // The canvases, captions and explanation, once per job.
  #layout(v) {
    this.title.textContent = v.mode === "all" ? "What each layer keeps of the image" : `What ${v.layer} keeps of the image`;
    this.pictures.classList.toggle("grid", v.parts.length > 3);
    this.canvases = [];
    this.errors = [];
    const figure = (label, name, errors, k) => {
      const box = el("figure", { class: "maximize-picture" });
      const canvas = el("canvas", { class: "map", role: "img", "aria-label": name });
      const caption = el("figcaption");
      const title = el("span", { class: "invert-label" });
      // In the perturbation mode the plot's lines are coloured as these swatches.
      if (v.mode === "perturb" && k !== undefined) title.append(el("span", { class: `swatch part-${k}`, "aria-hidden": "true" }));
      title.append(label);
      caption.append(title);
      if (errors) caption.append(errors.input, errors.activation);
      box.append(canvas, caption);
      this.canvases.push(canvas);
      return box;
    };
    const figures = [figure("original", "the image, as the network sees it")];
    v.parts.forEach((part, k) => {
      const errors = { input: el("span", { class: "value" }), activation: el("span", { class: "value" }) };
      this.errors.push(errors);
      const label = v.mode === "perturb" ? part.label : v.mode === "all" ? part.layer : `from ${part.layer}`;
      figures.push(figure(label, `reconstruction from ${part.layer} (${part.label})`, errors, k));
    });
    this.pictures.replaceChildren(...figures);
    this.about.replaceChildren(el("h4", {}, v.about.title), el("p", { class: "method-text" }, v.about.text));
    const papers = el("ul", { class: "method-papers" });
    papers.append(...v.about.papers.map(paper));
    this.about.append(papers);
  }

  #paint(canvas, data, image, k) {
    const [, h, w] = data.view.images[image].shape;
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const { offset } = data.view.images[image];
    const pixels = new Uint8ClampedArray(data.rasters.buffer, data.rasters.byteOffset + offset + k * w * h * 4, w * h * 4);
    canvas.getContext("2d").putImageData(new ImageData(pixels, w, h), 0, 0);
  }
}
