// The settings form of the "What excites it most" tab (views/maximize.js runs the job):
// what to maximise (a channel's mean, one neuron, the whole layer, a class), the
// regularisers, step size, seed and steps, and the Start, Stop and Cancel buttons; the
// settings as Python reads them and as a link carries them.
import { el } from "./common.js";
import { field, jobForm, JobButtons, numberInput, readNumbers, runRow, writeNumbers } from "./job-form.js";

// Regulariser strengths switched on by default (cnnlens.methods.maximize.SUGGESTED; the
// view carries Python's own, and tests/e2e/test_methods_maximize.py checks they agree).
const SUGGESTED = { l2_decay: 0.01, jitter: 1, blur_every: 4 };
const DEFAULTS = { mode: "channel", seed: 0, steps: 100, step_size: 0.1, blur_sigma: 0.5, clip: true, ...SUGGESTED, on: { l2_decay: true, jitter: true, blur_every: true } };

// Link parameter ↔ setting (the address carries every setting, so a link repeats the picture).
const LINK = { lr: "step_size", l2: "l2_decay", jitter: "jitter", blur: "blur_every", sigma: "blur_sigma" };
const MODES = {
  channel: "the mean of this channel",
  neuron: "one neuron of this channel",
  layer: "every channel of this layer (whole layer)",
  class: "the score (logit) of this class",
  classes: "every class (whole layer)",
};

function inline(label, input, suffix) {
  const box = el("span", { class: "maximize-inline" });
  box.append(el("label", { for: input.id }, label), input);
  if (suffix) box.append(el("span", { class: "unit" }, suffix));
  return box;
}

export class MaximizeSettings {
  // onStart(): Start pressed or any setting changed; onPauseResume(): Stop or Resume
  // pressed; onCancel(): Cancel pressed.
  constructor({ onStart, onPauseResume, onCancel }) {
    this.values = structuredClone(DEFAULTS);
    this.position = null;  // [y, x] for one neuron
    this.#build(onStart, onPauseResume, onCancel);
  }

  // --- the controls, built once ---

  #build(onStart, onPauseResume, onCancel) {
    const s = this.values;
    // Any setting changed starts again with it, so its effect shows at once.
    const form = jobForm({ class: "maximize-form", "aria-label": "Activation maximisation settings" }, {
      onStart,
      onChange: () => {
        this.where.hidden = this.mode.value !== "neuron";
        onStart();
      },
    });
    this.root = form;

    this.mode = el("select", { id: "maximize-mode" });
    this.y = numberInput("maximize-y", { min: 0, max: 0, step: 1 }, 0);
    this.x = numberInput("maximize-x", { min: 0, max: 0, step: 1 }, 0);
    this.where = el("div", { class: "maximize-where" });
    this.where.append(field("row", this.y), field("column", this.x));
    const what = el("div", { class: "maximize-what" });
    what.append(field("Maximise", this.mode), this.where);

    const regs = el("fieldset", { class: "maximize-regularisers" });
    regs.append(el("legend", {}, "Regularisers"));
    this.inputs = {
      l2_decay: numberInput("maximize-l2", { min: 0, max: 0.5, step: 0.005 }, s.l2_decay),
      jitter: numberInput("maximize-jitter", { min: 0, max: 8, step: 1 }, s.jitter),
      blur_every: numberInput("maximize-blur", { min: 1, max: 50, step: 1 }, s.blur_every),
      blur_sigma: numberInput("maximize-sigma", { min: 0.1, max: 3, step: 0.1 }, s.blur_sigma),
      step_size: numberInput("maximize-lr", { min: 0.001, max: 2, step: 0.01 }, s.step_size),
      seed: numberInput("maximize-seed", { min: 0, max: 4294967295, step: 1 }, s.seed),
      steps: numberInput("maximize-steps", { min: 1, max: 5000, step: 1 }, s.steps),
    };
    this.toggles = {};
    const toggle = (name, id, label, parts) => {
      const box = el("input", { id, type: "checkbox" });
      this.toggles[name] = box;
      const row = el("div", { class: "maximize-reg" });
      const strengths = el("span", { class: "maximize-strengths" });
      strengths.append(...parts);
      row.append(box, el("label", { for: id }, label));
      if (parts.length) row.append(strengths);
      regs.append(row);
    };
    toggle("l2_decay", "maximize-l2-on", "L2 decay", [inline("strength", this.inputs.l2_decay)]);
    toggle("jitter", "maximize-jitter-on", "Jitter", [inline("up to", this.inputs.jitter, "px")]);
    toggle("blur_every", "maximize-blur-on", "Blur", [inline("every", this.inputs.blur_every, "steps"), inline("σ", this.inputs.blur_sigma, "px")]);
    toggle("clip", "maximize-clip", "Clip to the input range", []);

    this.buttons = new JobButtons("maximize", { onPauseResume, onCancel });
    form.append(what, regs, runRow(this.inputs), this.buttons.root);
    this.#write();
  }

  #write() {
    const s = this.values;
    writeNumbers(this.inputs, s);
    for (const name of Object.keys(SUGGESTED)) this.toggles[name].checked = s.on[name];
    this.toggles.clip.checked = s.clip;
  }

  // The settings as the form shows them; an empty or impossible box is refused by Python
  // with a message, so only the form's own limits are applied here.
  read() {
    const s = this.values;
    readNumbers(this.inputs, s);
    for (const name of Object.keys(SUGGESTED)) s.on[name] = this.toggles[name].checked;
    s.clip = this.toggles.clip.checked;
    s.mode = this.mode.value || s.mode;
    this.position = [Number(this.y.value), Number(this.x.value)];
  }

  // The form shows what Python actually runs (a job's first answer, `v` its view).
  follow(v) {
    const t = v.targets[0];
    this.values.mode = v.whole_layer ? "layer" : t.kind === "neuron" ? "neuron" : "channel";
    if (t.position) this.position = t.position;
    else if (!this.position && v.map) this.position = v.map.map((side) => Math.floor(side / 2));
    this.#modes(t.kind === "neuron" ? "channel" : t.kind, v.map);
  }

  // kind: the target's (channel or class); map: its layer's map size [H, W], or null.
  #modes(kind, map) {
    const isClass = kind === "class";
    const modes = isClass ? ["class", "classes"] : map ? ["channel", "neuron", "layer"] : ["channel", "layer"];
    const value = { classes: "layer", class: "channel" };
    const wanted = this.values.mode;
    this.mode.replaceChildren(...modes.map((m) => el("option", { value: value[m] || m }, MODES[m])));
    this.mode.value = [...this.mode.options].some((o) => o.value === wanted) ? wanted : "channel";
    this.values.mode = this.mode.value;
    this.where.hidden = this.mode.value !== "neuron";
    if (map) {
      this.y.max = String(map[0] - 1);
      this.x.max = String(map[1] - 1);
    }
    // An answer names the running job's position; a box the user is typing in keeps what
    // they typed (its change event starts the next run with it).
    if (this.position) {
      [this.y, this.x].forEach((input, i) => {
        if (document.activeElement !== input) input.value = String(this.position[i]);
      });
    }
  }

  // The buttons for a job's state (JobRunner's).
  showState(state) {
    this.buttons.showState(state);
  }

  // --- what is sent ---

  // `maximize_start`'s target for the tile {layer, channel}.
  targetText({ layer, channel }) {
    if (this.values.mode === "layer") return `${layer}:*`;
    if (this.values.mode === "neuron" && this.position) return `${layer}:${channel}:${this.position[0]}:${this.position[1]}`;
    return `${layer}:${channel}`;
  }

  // `maximize_start`'s settings (methods.maximize.Settings fields).
  json() {
    const s = this.values;
    return JSON.stringify({
      step_size: s.step_size,
      l2_decay: s.on.l2_decay ? s.l2_decay : 0,
      jitter: s.on.jitter ? s.jitter : 0,
      blur_every: s.on.blur_every ? s.blur_every : 0,
      blur_sigma: s.blur_sigma,
      clip: s.clip,
    });
  }

  link() {
    const s = this.values;
    const link = { view: "maximize", target: s.mode, seed: s.seed, steps: s.steps, lr: s.step_size,
      l2: s.on.l2_decay ? s.l2_decay : 0, jitter: s.on.jitter ? s.jitter : 0,
      blur: s.on.blur_every ? s.blur_every : 0, sigma: s.blur_sigma, clip: s.clip ? 1 : 0 };
    if (s.mode === "neuron" && this.position) [link.y, link.x] = this.position;
    return link;
  }

  // A link's settings; a setting it leaves out keeps the page's default.
  readLink(link) {
    const s = structuredClone(DEFAULTS);
    const number = (key, fallback) => (link.has(key) && link.get(key) !== "" ? Number(link.get(key)) : fallback);
    s.mode = link.get("target") || s.mode;
    s.seed = number("seed", s.seed);
    s.steps = number("steps", s.steps);
    for (const [key, name] of Object.entries(LINK)) {
      const value = number(key, s[name]);
      if (name in SUGGESTED) {
        s.on[name] = value !== 0;
        if (value !== 0) s[name] = value;
      } else {
        s[name] = value;
      }
    }
    s.clip = number("clip", 1) !== 0;
    this.values = s;
    this.position = link.has("y") && link.has("x") ? [number("y", 0), number("x", 0)] : null;
    this.#write();
  }
}
