// The "What excites it most" tab: activation maximisation (cnnlens/views/maximize.py).
// Python climbs from seeded noise towards the input that excites the selected channel,
// neuron or class most; the page asks for one short chunk of steps at a time (job.js),
// draws each answer (the picture, the target's value per step, the progress) and asks for
// the next, so the page and the worker stay free for everything else. Stop pauses (the worker keeps the job), Resume asks for chunks again, Cancel drops
// the job; a new target, image or model, or Start again, ends the running one.
import { JobRunner } from "../job.js";
import { explain } from "../protocol.js";
import { el, fmt, Packed, paper } from "./common.js";
import { MaximizeSettings } from "./maximize-settings.js";
import { StepPlot } from "./step-plot.js";

// How many times the panel has drawn (data-cnnlens-method-ready).
let drawn = 0;

// The "What excites it most" tab; a method object for methods.js (views, show, link, stop).
export class MaximizePanel {
  // host: the tab's panel; client: protocol.js's Client; onChange(): the link changed.
  constructor(host, client, { onChange = () => {} } = {}) {
    this.host = host;
    this.client = client;
    this.onChange = onChange;
    this.views = ["maximize"];
    this.target = null;  // {layer, channel}
    this.canvases = [];
    this.build();
    this.runner = new JobRunner(client, {
      draw: (answer, first) => {
        this.#draw(answer, first);
        if (first) this.onChange();
      },
      onState: (state) => this.#showState(state),
      onError: (error) => this.#fail(error),
    });
  }

  // --- the controls, built once ---

  build() {
    this.root = el("section", { class: "maximize", "data-testid": "method-maximize", "aria-labelledby": "maximize-title" });
    this.title = el("h3", { id: "maximize-title", class: "maximize-title" }, "What excites it most");
    this.settings = new MaximizeSettings({
      onStart: () => this.start(),
      onPauseResume: () => (this.state === "running" ? this.pause() : this.resume()),
      onCancel: () => this.cancel(),
    });

    this.progress = el("progress", { class: "maximize-progress", max: "1", value: "0", "aria-labelledby": "maximize-status" });
    this.status = el("p", { id: "maximize-status", class: "maximize-status", role: "status", "aria-live": "polite" }, "");
    this.message = el("p", { class: "message method-error", role: "alert" });
    this.message.hidden = true;
    this.pictures = el("div", { class: "maximize-pictures" });
    this.plot = new StepPlot({
      caption: (values, n, goal, last) => (n > 1
        ? `Each picture's target value after each step (${last} of ${goal} so far).`
        : `The target's value after each step: ${fmt(values[0])} on the starting noise, ${fmt(values[last * n])} at step ${last}.`),
    });
    const result = el("div", { class: "maximize-result" });
    result.append(this.pictures, this.plot.root);

    this.about = el("div", { class: "maximize-about" });
    this.root.append(this.title, this.settings.root, this.progress, this.status, this.message, result, this.about);
    this.host.replaceChildren(this.root);
  }

  // --- methods.js's calls ---

  link() {
    return this.settings.link();
  }

  // Shows the tab for a tile or class. For the target already shown it keeps what is there
  // (a run goes on; one paused by leaving the tab resumes); otherwise, or for a link being
  // restored, it starts a run. Resolves once the first state of a new run is drawn.
  async show(layer, channel, link) {
    const same = this.target && this.target.layer === layer && this.target.channel === channel;
    if (!same) this.settings.position = null;
    this.target = { layer, channel };
    if (link) this.settings.readLink(link);
    else if (same && this.state !== "idle") {
      if (this.state === "paused" && this.pausedBy === "tab") this.resume();
      return;
    }
    await this.start();
  }

  // Another tab replaces this one: pause (Resume, or coming back, continues).
  stop() {
    if (this.state === "running") {
      this.pause();
      this.pausedBy = "tab";
    }
  }

  // --- the job (job.js runs it) ---

  get state() {
    return this.runner.state;
  }

  // Starts a new job from the form's settings and runs it; resolves once its first state
  // is drawn.
  async start() {
    if (!this.target) return;
    this.settings.read();
    const { seed, steps } = this.settings.values;
    this.pausedBy = null;
    await this.runner.start("maximize_start", this.settings.targetText(this.target), this.settings.json(), seed, steps);
  }

  pause() {
    this.pausedBy = "user";
    this.runner.pause();
  }

  resume() {
    this.pausedBy = null;
    this.runner.resume();
  }

  // The worker is about to drop the job (a new image or model): stop asking for chunks
  // without a word; showing the tab again starts afresh.
  halt() {
    this.runner.halt();
  }

  // Drops the job in the worker; the picture so far stays on screen.
  cancel() {
    return this.runner.cancel();
  }

  #fail(error) {
    this.message.textContent = explain(error);
    this.message.hidden = false;
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
    const where = v.whole_layer ? `step ${v.step} / ${v.goal} for each of ${v.targets.length} pictures` : `step ${v.step} / ${v.goal}`;
    const value = v.whole_layer ? "" : ` · value ${fmt(v.value[0])}`;
    const rate = this.rate ? ` · ${this.rate.toFixed(1)} steps/s` : "";
    const said = { running: "", paused: " · stopped", done: " · done", cancelled: " · cancelled", failed: "", starting: "", idle: "" }[this.state];
    this.status.textContent = `${where}${value}${rate}${said}`;
  }

  // --- drawing ---

  #draw(answer, first) {
    const began = performance.now();
    const data = new Packed(answer);
    const v = data.view;
    this.view = v;
    if (first) {
      this.settings.follow(v);
      this.#layout(v);
      this.started = performance.now();
      this.startSteps = v.steps_run;
    }
    const seconds = (performance.now() - this.started) / 1000;
    // Steps per second; in whole-layer mode a step is one step of every picture.
    this.rate = !first && seconds > 0 ? (v.steps_run - this.startSteps) / v.targets.length / seconds : 0;
    const [n, c, h, w] = data.shape("pictures");
    v.targets.forEach((_, k) => this.#paint(data, k, w, h));
    this.plot.draw(data.numbers.subarray(v.arrays.values.offset, v.arrays.values.offset + data.shape("values").reduce((a, b) => a * b, 1)), n, v.goal, v.value_range);
    if (v.whole_layer) {
      v.value.forEach((value, k) => { this.captions[k].lastChild.textContent = fmt(value); });
    }
    this.progress.max = v.steps_total || 1;
    this.progress.value = v.steps_run;
    this.#writeStatus();
    // The numbers drawn, for readers' tools and tests: the engine's as Python sent them.
    const size = n * c * h * w;
    this.root.cnnlensNumbers = {
      pictures: { shape: [n, c, h, w], values: data.numbers.subarray(v.arrays.pictures.offset, v.arrays.pictures.offset + size) },
      values: { shape: data.shape("values"), values: data.numbers.subarray(v.arrays.values.offset, v.arrays.values.offset + data.shape("values").reduce((a, b) => a * b, 1)) },
    };
    Object.assign(this.root.dataset, { step: String(v.step), goal: String(v.goal), done: String(v.done), seed: String(v.seed), target: v.label });
    drawn += 1;
    this.root.dataset.cnnlensMethodReady = String(drawn);
    performance.measure("cnnlens:maximize-draw", { start: began, end: performance.now() });
  }

  #name(t) {
    if (t.kind === "class") return t.name;
    return t.kind === "neuron" ? `channel ${t.channel} at (${t.position.join(", ")})` : `channel ${t.channel}`;
  }

  // The pictures' canvases and the explanation, once per job.
  #layout(v) {
    const t = v.targets[0];
    const what = v.whole_layer ? `every ${t.kind === "class" ? "class" : "channel"} of ${v.layer}`
      : t.kind === "class" ? `class ${t.name} (its logit)` : t.kind === "neuron"
        ? `${v.layer}, channel ${t.channel}, the neuron at row ${t.position[0]}, column ${t.position[1]}`
        : `${v.layer}, channel ${t.channel} (its mean)`;
    this.title.textContent = `What excites ${what} most`;
    this.pictures.classList.toggle("grid", v.whole_layer);
    this.canvases = [];
    this.captions = [];
    const figures = v.targets.map((target) => {
      const figure = el("figure", { class: "maximize-picture" });
      const label = v.whole_layer ? `picture found for ${this.#name(target)}` : `the picture found so far for ${what}`;
      const canvas = el("canvas", { class: "map", role: "img", "aria-label": label });
      const caption = el("figcaption", {}, v.whole_layer ? "" : "the input found so far, as an image");
      if (v.whole_layer) caption.append(el("span", {}, this.#name(target)), el("span", { class: "value" }));
      figure.append(canvas, caption);
      this.canvases.push(canvas);
      this.captions.push(caption);
      return figure;
    });
    this.pictures.replaceChildren(...figures);
    this.about.replaceChildren(el("h4", {}, v.about.title), el("p", { class: "method-text" }, v.about.text));
    const papers = el("ul", { class: "method-papers" });
    papers.append(...v.about.papers.map(paper));
    this.about.append(papers);
  }

  #paint(data, k, w, h) {
    const canvas = this.canvases[k];
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const { offset } = data.view.images.pictures;
    const pixels = new Uint8ClampedArray(data.rasters.buffer, data.rasters.byteOffset + offset + k * w * h * 4, w * h * 4);
    canvas.getContext("2d").putImageData(new ImageData(pixels, w, h), 0, 0);
  }
}
