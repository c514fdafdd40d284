// What the step-by-step method tabs share (views/maximize.js, views/invert.js): the panel
// around a settings form (the title, progress, status line, message, pictures beside a
// value-per-step plot, the method's explanation), the job as job.js runs it (Start, Stop,
// Resume, Cancel; leaving the tab pauses, coming back resumes) and the frame of each
// drawing (rate, progress, the numbers and marks tests read). A subclass builds its
// settings and says what a job's answer draws: layout(v), drawStep(data, v),
// statusText(v), parts(v), marks(v).
import { JobRunner } from "../job.js";
import { explain } from "../protocol.js";
import { aboutParts, el, Packed } from "./common.js";
import { StepPlot } from "./step-plot.js";

// How many times each method's panel has drawn (data-cnnlens-method-ready).
const drawn = {};

export class JobPanel {
  // host: the tab's panel; client: protocol.js's Client; onChange(): the link changed;
  // name: the method ("maximize"), for ids, the test id and the draw measure; title: the
  // heading until a job names its target; settings({onStart, onPauseResume, onCancel}):
  // makes the form; caption: the plot's (StepPlot's); classes: an extra class of the
  // section ("invert"; the pictures' box then gets "invert-pictures").
  constructor(host, client, onChange, { name, title, settings, caption, classes = "" }) {
    this.host = host;
    this.client = client;
    this.onChange = onChange;
    this.name = name;
    this.views = [name];
    this.pausedBy = null;  // "user" or "tab"
    this.canvases = [];
    const extra = classes ? ` ${classes}` : "";
    this.root = el("section", { class: `maximize${extra}`, "data-testid": `method-${name}`, "aria-labelledby": `${name}-title` });
    this.title = el("h3", { id: `${name}-title`, class: "maximize-title" }, title);
    this.settings = settings({
      onStart: () => this.start(),
      onPauseResume: () => (this.state === "running" ? this.pause() : this.resume()),
      onCancel: () => this.cancel(),
    });
    this.progress = el("progress", { class: "maximize-progress", max: "1", value: "0", "aria-labelledby": `${name}-status` });
    this.status = el("p", { id: `${name}-status`, class: "maximize-status", role: "status", "aria-live": "polite" }, "");
    this.message = el("p", { class: "message method-error", role: "alert" });
    this.message.hidden = true;
    this.pictures = el("div", { class: `maximize-pictures${classes ? ` ${classes}-pictures` : ""}` });
    this.plot = new StepPlot({ caption });
    const result = el("div", { class: "maximize-result" });
    result.append(this.pictures, this.plot.root);
    this.about = el("div", { class: "maximize-about" });
    this.root.append(this.title, this.settings.root, this.progress, this.status, this.message, result, this.about);
    host.replaceChildren(this.root);
    this.runner = new JobRunner(client, {
      draw: (answer, first) => {
        this.#draw(answer, first);
        if (first) this.onChange();
      },
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

  // Shows the tab again: for the target already shown (`same`) it keeps what is there (a
  // run goes on; one paused by leaving the tab resumes); otherwise, or for a link being
  // restored, it starts a run. Resolves once the first state of a new run is drawn.
  async reopen(same, link) {
    if (link) this.settings.readLink(link);
    else if (same && this.state !== "idle") {
      if (this.state === "paused" && this.pausedBy === "tab") this.resume();
      return;
    }
    await this.start();
  }

  // Another tab replaces this one: pause (Resume, or coming back, continues).
  stop() {
    if (this.state !== "running") return;
    this.runner.pause();
    this.pausedBy = "tab";
  }

  // --- the job (job.js runs it) ---

  // Starts a new job with `request` and its arguments; resolves once its first state is
  // drawn.
  async run(request, ...args) {
    this.pausedBy = null;
    await this.runner.start(request, ...args);
  }

  pause() {
    this.pausedBy = "user";
    this.runner.pause();
  }

  resume() {
    this.pausedBy = null;
    this.runner.resume();
  }

  // Drops the job in the worker; the pictures so far stay on screen.
  cancel() {
    return this.runner.cancel();
  }

  #showState(state) {
    this.root.dataset.state = state;
    this.settings.showState(state);
    this.host.setAttribute("aria-busy", String(state === "starting"));
    if (state !== "failed") this.message.hidden = true;
    this.writeStatus();
  }

  writeStatus() {
    const v = this.view;
    if (!v) {
      this.status.textContent = this.state === "starting" ? "Starting…" : "";
      return;
    }
    const rate = this.rate ? ` · ${this.rate.toFixed(1)} steps/s` : "";
    const said = { paused: " · stopped", done: " · done", cancelled: " · cancelled" }[this.state] || "";
    this.status.textContent = `${this.statusText(v)}${rate}${said}`;
  }

  // --- drawing ---

  #draw(answer, first) {
    const began = performance.now();
    const data = new Packed(answer);
    const v = data.view;
    this.view = v;
    if (first) {
      this.layout(v);
      this.started = performance.now();
      this.startSteps = v.steps_run;
    }
    const seconds = (performance.now() - this.started) / 1000;
    // Steps per second of each picture (one step of every picture counts once).
    this.rate = !first && seconds > 0 ? (v.steps_run - this.startSteps) / this.parts(v) / seconds : 0;
    const numbers = this.drawStep(data, v);
    this.progress.max = v.steps_total || 1;
    this.progress.value = v.steps_run;
    this.writeStatus();
    // The numbers drawn, for readers' tools and tests: the engine's as Python sent them.
    this.root.cnnlensNumbers = numbers;
    Object.assign(this.root.dataset, { step: String(v.step), goal: String(v.goal), done: String(v.done), seed: String(v.seed), ...this.marks(v) });
    drawn[this.name] = (drawn[this.name] || 0) + 1;
    this.root.dataset.cnnlensMethodReady = String(drawn[this.name]);
    performance.measure(`cnnlens:${this.name}-draw`, { start: began, end: performance.now() });
  }

  // The method's explanation, once per job.
  showAbout(about) {
    this.about.replaceChildren(...aboutParts(about));
  }

  // Puts the k-th picture of a named image on a canvas, resizing it to the picture.
  paintImage(canvas, data, image, k) {
    const pixels = data.imageData(image, [k]);
    if (canvas.width !== pixels.width || canvas.height !== pixels.height) {
      canvas.width = pixels.width;
      canvas.height = pixels.height;
    }
    canvas.getContext("2d").putImageData(pixels, 0, 0);
  }
}
