// The "What it stands for" tab: network dissection, lite (cnnlens/views/dissect.py). Python
// runs the layer of the selected tile over a probe set (the model's own, or a folder or
// zip of the reader's images) in short chunks (job.js); the panel shows the progress, then
// the layer summary (channels by class selectivity, dead ones flagged) and, for the chosen
// channel, its top images with the receptive-field box and the thresholded mask, the box's
// crop, and its mean activation per class. Only drawing happens here: every number, box,
// mask and picture is Python's.
import { JobRunner } from "../job.js";
import { explain } from "../protocol.js";
import { aboutParts, el, fmt, Packed } from "./common.js";

let drawn = 0;  // data-cnnlens-method-ready
const SVG = "http://www.w3.org/2000/svg";
const OWN = "own";
const SCALE = 4;  // canvas pixels per input pixel for a 28 × 28 picture (fewer for larger)

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// The reader's folder or zip as one request: the files' bytes joined, and their names and
// sizes (folders keep their paths, which label the images).
async function probeRequest(files) {
  const list = [...files];
  const parts = await Promise.all(list.map((f) => f.arrayBuffer()));
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(new Uint8Array(part), at);
    at += part.byteLength;
  }
  const names = list.map((f, i) => ({ name: f.webkitRelativePath || f.name, size: parts[i].byteLength }));
  return [joined, JSON.stringify(names)];
}

// Mean activation per class: one horizontal bar each, from a zero line.
function classBars(classes, means) {
  const rowH = 16;
  const width = 300;
  const left = 92;
  const height = classes.length * rowH + 4;
  const low = Math.min(0, ...means);
  const high = Math.max(0, ...means);
  const span = high - low || 1;
  const x = (v) => left + ((v - low) / span) * (width - left - 40);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "dissect-bars", role: "img" });
  chart.append(svg("path", { class: "axis", d: `M${x(0).toFixed(1)} 0V${height}` }));
  const best = means.indexOf(Math.max(...means));
  classes.forEach((name, k) => {
    const y = 2 + k * rowH;
    const [a, b] = [x(Math.min(0, means[k])), x(Math.max(0, means[k]))];
    chart.append(svg("text", { x: left - 4, y: y + 11, "text-anchor": "end" }, name));
    chart.append(svg("rect", { x: a.toFixed(1), y: y + 2, width: Math.max(0.5, b - a).toFixed(1), height: rowH - 5, class: k === best ? "bar best" : "bar" }));
    chart.append(svg("text", { x: (b + 3).toFixed(1), y: y + 11, class: "value" }, fmt(means[k])));
  });
  chart.setAttribute("aria-label", `Mean activation per class: ${classes.map((c, k) => `${c} ${fmt(means[k])}`).join(", ")}`);
  return chart;
}

// The "What it stands for" tab; a method object for methods.js (views, show, link, stop).
export class DissectPanel {
  constructor(host, client, { onChange = () => {} } = {}) {
    this.host = host;
    this.client = client;
    this.onChange = onChange;
    this.views = ["dissect"];
    this.target = null;
    this.view = null;
    this.build();
    this.runner = new JobRunner(client, {
      draw: (answer, first) => this.#draw(answer, first),
      onState: (state) => this.#showState(state),
      onError: (error) => this.#fail(error),
    });
  }

  build() {
    this.root = el("section", { class: "dissect", "data-testid": "method-dissect", "aria-labelledby": "dissect-title" });
    this.title = el("h3", { id: "dissect-title", class: "maximize-title" }, "What it stands for");
    const form = el("div", { class: "method-controls dissect-form" });
    this.probe = el("select", { id: "dissect-probe" });
    this.probe.append(el("option", { value: "" }, "the model's probe images"), el("option", { value: OWN, disabled: "" }, "your images"));
    this.top = el("select", { id: "dissect-top" });
    for (const k of [4, 8, 16]) this.top.append(el("option", { value: String(k) }, String(k)));
    this.top.value = "8";
    this.folder = el("input", { type: "file", id: "dissect-folder", webkitdirectory: "", multiple: "", class: "visually-hidden" });
    this.zip = el("input", { type: "file", id: "dissect-zip", accept: ".zip,application/zip", class: "visually-hidden" });
    const pick = (input, text) => el("label", { for: input.id, class: "button-like" }, text);
    this.startButton = el("button", { type: "button" }, "Dissect");
    this.cancelButton = el("button", { type: "button", disabled: "" }, "Cancel");
    const control = (id, text, input) => {
      const box = el("div", { class: "method-control" });
      box.append(el("label", { for: id }, text), input);
      return box;
    };
    form.append(control("dissect-probe", "Images", this.probe), pick(this.folder, "Choose a folder…"), this.folder,
      pick(this.zip, "Choose a zip…"), this.zip, control("dissect-top", "Top", this.top), this.startButton, this.cancelButton);
    this.progress = el("progress", { class: "maximize-progress", max: "1", value: "0", "aria-labelledby": "dissect-status" });
    this.status = el("p", { id: "dissect-status", class: "maximize-status", role: "status", "aria-live": "polite" }, "");
    this.message = el("p", { class: "message method-error", role: "alert" });
    this.message.hidden = true;
    this.summary = el("div", { class: "dissect-summary" });
    this.channel = el("div", { class: "dissect-channel" });
    this.about = el("div", { class: "maximize-about" });
    const result = el("div", { class: "dissect-result" });
    result.append(this.summary, this.channel);
    this.root.append(this.title, form, this.progress, this.status, this.message, result, this.about);
    this.host.replaceChildren(this.root);

    this.startButton.addEventListener("click", () => this.start());
    this.cancelButton.addEventListener("click", () => this.runner.cancel());
    this.probe.addEventListener("change", () => this.start());
    this.top.addEventListener("change", () => this.start());
    for (const input of [this.folder, this.zip]) {
      input.addEventListener("change", () => {
        if (input.files.length) this.useOwn(input.files);
        input.value = "";
      });
    }
    this.root.addEventListener("dragover", (event) => event.preventDefault());
    this.root.addEventListener("drop", (event) => {
      event.preventDefault();
      if (event.dataTransfer.files.length) this.useOwn(event.dataTransfer.files);
    });
  }

  link() {
    return { view: "dissect" };
  }

  // A tile is selected: dissect its layer (a layer already dissected this session answers
  // at once); the same layer only shows the chosen channel.
  async show(layer, channel) {
    const same = this.target && this.target.layer === layer;
    this.target = { layer, channel };
    if (same && this.view && this.view.done) {
      this.#showChannel(channel);
      return;
    }
    if (same && ["running", "starting"].includes(this.state)) return;
    if (same && this.state === "paused") {
      this.runner.resume();  // paused by leaving the tab
      return;
    }
    await this.start();
  }

  stop() {
    if (this.state === "running") this.runner.pause();
  }

  get state() {
    return this.runner.state;
  }

  async start() {
    if (!this.target) return;
    this.view = null;
    this.message.hidden = true;
    await this.runner.start("dissect_start", this.target.layer, this.probe.value, Number(this.top.value));
  }

  // The reader's folder or zip: read in the worker; a set it refuses keeps the previous one.
  async useOwn(files) {
    this.status.textContent = "Reading your images…";
    let held;
    try {
      held = (await this.client.ask("dissect_probe", ...(await probeRequest(files)))).probe;
    } catch (error) {
      this.#fail(error);
      this.status.textContent = "";
      return;
    }
    const own = this.probe.querySelector(`option[value="${OWN}"]`);
    own.disabled = false;
    own.textContent = `your images: ${held.name} (${held.count}${held.labelled ? `, ${held.classes.length} classes` : ""})`;
    this.probe.value = OWN;
    this.skipped = held.skipped;
    await this.start();
  }

  #fail(error) {
    this.message.textContent = explain(error);
    this.message.hidden = false;
  }

  #showState(state) {
    this.root.dataset.state = state;
    // Halted (job.js's haltJob: a new image or model; or another panel's job): what is drawn
    // may belong to another model, so the next show asks again (a cached answer is instant).
    if (state === "idle") this.view = null;
    const busy = state === "running" || state === "starting" || state === "paused";
    this.cancelButton.disabled = !busy;
    this.host.setAttribute("aria-busy", String(state === "starting"));
    if (state === "paused" && this.view && !this.view.done) this.status.textContent += " · paused";
    if (state === "cancelled") this.status.textContent = `Cancelled after ${this.view ? this.view.step : 0} images.`;
  }

  #draw(answer, first) {
    const began = performance.now();
    const data = new Packed(answer);
    const v = data.view;
    this.view = v;
    this.data = data;
    this.progress.max = v.steps_total;
    this.progress.value = v.step;
    this.title.textContent = `What each channel of ${v.layer} stands for`;
    if (first) {
      this.summary.replaceChildren();
      this.channel.replaceChildren();
      this.about.replaceChildren(...aboutParts(v.about));
    }
    const skipped = v.probe.skipped.length ? ` · ${v.probe.skipped.length} files skipped (${v.probe.skipped.slice(0, 2).join("; ")}${v.probe.skipped.length > 2 ? "; …" : ""})` : "";
    this.status.textContent = v.done
      ? `Over ${v.probe.title}${v.probe.labelled ? "" : " (no labels: no class means)"}${skipped}`
      : `Running the images through the network: ${Math.min(v.step, v.probe.count)} of ${v.probe.count}${skipped}`;
    this.root.dataset.done = String(v.done);
    this.root.dataset.layer = v.layer;
    if (v.done) {
      this.#summary(v);
      this.#showChannel(this.target && this.target.layer === v.layer ? this.target.channel : v.summary[0].channel);
      this.root.cnnlensNumbers = Object.fromEntries(["values", "class_means", "thresholds"].map((name) => [name, data.array(name)]));
      drawn += 1;
      this.root.dataset.cnnlensMethodReady = String(drawn);
    }
    performance.measure("cnnlens:dissect-draw", { start: began, end: performance.now() });
  }

  // The layer summary: one button per channel, most class-selective first, dead last.
  #summary(v) {
    const table = el("table", { class: "dissect-table" });
    const head = el("tr");
    for (const text of ["channel", v.classes.length ? "selectivity" : "peak", "top class"]) head.append(el("th", { scope: "col" }, text));
    table.append(el("caption", {}, `Channels of ${v.layer}, ${v.classes.length ? "most class-selective first" : "by peak activation"}`), head);
    this.rows = new Map();
    for (const s of v.summary) {
      const row = el("tr", { "data-channel": String(s.channel) });
      const button = el("button", { type: "button", class: "dissect-pick", "aria-label": `channel ${s.channel}` }, String(s.channel));
      button.addEventListener("click", () => this.#showChannel(s.channel, true));
      const first = el("td");
      first.append(button);
      const score = v.classes.length ? s.selectivity : s.peak;
      const meter = el("td", { class: "num", "data-value": String(score) }, s.dead ? "dead" : fmt(score));
      if (s.dead) row.classList.add("dead");
      row.append(first, meter, el("td", {}, s.dead ? "never active" : (s.top_class ?? "–")));
      table.append(row);
      this.rows.set(s.channel, row);
    }
    this.summary.replaceChildren(table);
  }

  // One channel: its top images (mask and box over each, the box's crop beside it) and its
  // mean activation per class.
  #showChannel(channel, focus = false) {
    const v = this.view;
    if (!v || !v.done) return;
    const info = v.channels[channel];
    if (!info) return;
    for (const [c, row] of this.rows) row.classList.toggle("chosen", c === channel);
    if (focus) this.target = { ...this.target, channel };
    const [h, w] = v.input;
    const scale = Math.max(1, Math.round((SCALE * 28) / Math.max(h, w)));
    const figures = info.top.map((t, rank) => {
      const figure = el("figure", { class: "dissect-top" });
      const whole = el("canvas", { class: "map", width: String(w * scale), height: String(h * scale), role: "img", "aria-label": `top image ${rank + 1}: ${t.image}, peak ${fmt(t.value)} at row ${t.position[0]}, column ${t.position[1]}` });
      const [y0, x0, y1, x1] = t.box;
      const crop = el("canvas", { class: "map crop", width: String((x1 - x0) * scale), height: String((y1 - y0) * scale), role: "img", "aria-label": `the receptive field's crop, rows ${y0}–${y1 - 1}, columns ${x0}–${x1 - 1}` });
      this.#paint(whole, crop, channel, rank, t, scale);
      const caption = el("figcaption");
      caption.append(el("span", { class: "num", "data-value": String(t.value) }, fmt(t.value)), ` ${t.label ?? String(t.image)}`);
      const pair = el("div", { class: "dissect-pair" });
      pair.append(whole, crop);
      figure.append(pair, caption);
      return figure;
    });
    const grid = el("div", { class: "dissect-grid" });
    grid.append(...figures);
    const parts = [el("h4", {}, `Channel ${channel}: its top ${info.top.length} images`),
      el("p", { class: "method-range" }, `Amber: where the channel's activation is above ${fmt(info.threshold)}, its top 0.5% over all the images. Box: the receptive field of the neuron that peaked; beside it, its crop.`), grid];
    if (v.classes.length) {
      const { offset, shape } = v.arrays.class_means;
      const means = [...this.data.numbers.subarray(offset + channel * shape[1], offset + (channel + 1) * shape[1])];
      parts.push(el("h4", {}, "Mean activation per class"), classBars(v.classes, means));
    }
    this.channel.replaceChildren(...parts);
    this.root.dataset.channel = String(channel);
  }

  #paint(whole, crop, channel, rank, t, scale) {
    const data = this.data;
    const { images } = data.view;
    const [, h, w] = images.pictures.shape;
    const picture = data.canvas("pictures", [t.picture]);
    const mask = data.canvas("masks", [channel, rank]);
    const ctx = whole.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(picture, 0, 0, w * scale, h * scale);
    ctx.drawImage(mask, 0, 0, w * scale, h * scale);
    const [y0, x0, y1, x1] = t.box;
    ctx.strokeStyle = "#0b63ce";
    ctx.lineWidth = 2;
    ctx.strokeRect(x0 * scale + 1, y0 * scale + 1, (x1 - x0) * scale - 2, (y1 - y0) * scale - 2);
    const small = crop.getContext("2d");
    small.imageSmoothingEnabled = false;
    small.drawImage(picture, x0, y0, x1 - x0, y1 - y0, 0, 0, (x1 - x0) * scale, (y1 - y0) * scale);
  }
}
