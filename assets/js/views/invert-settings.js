// The settings form of the "What it keeps" tab (views/invert.js runs the job): what to
// reconstruct (this layer; this layer plain, binarised and half dropped out; every layer),
// the priors' weights and exponents, step size, seed and steps, and the Start, Stop and
// Cancel buttons; the settings as Python reads them (methods.inversion.Settings) and as a
// link carries them.
import { el } from "./common.js";
import { field, jobForm, JobButtons, numberInput, readNumbers, runRow, writeNumbers } from "./job-form.js";

// The page's defaults (cnnlens.methods.inversion.Settings' own; the e2e test runs the
// engine with these and compares).
const DEFAULTS = { mode: "layer", seed: 0, steps: 200, step_size: 0.05, tv_weight: 0.05, tv_beta: 2, norm_weight: 0.01, alpha: 6, clip: true };
const MODES = {
  layer: "this layer",
  perturb: "this layer, binarised and half dropped out",
  all: "every layer, side by side",
};
// Link parameter ↔ setting.
const LINK = { invert: "mode", seed: "seed", steps: "steps", lr: "step_size", tv: "tv_weight", beta: "tv_beta", norm: "norm_weight", alpha: "alpha" };

export class InvertSettings {
  // onStart(): Start pressed or any setting changed; onPauseResume(): Stop or Resume
  // pressed; onCancel(): Cancel pressed.
  constructor({ onStart, onPauseResume, onCancel }) {
    this.values = { ...DEFAULTS };
    const form = jobForm({ class: "maximize-form invert-form", "aria-label": "Inversion settings" }, { onStart });
    this.root = form;

    this.mode = el("select", { id: "invert-mode" });
    this.mode.append(...Object.entries(MODES).map(([value, text]) => el("option", { value }, text)));
    const what = el("div", { class: "maximize-what" });
    what.append(field("Reconstruct from", this.mode));

    this.inputs = {
      tv_weight: numberInput("invert-tv", { min: 0, max: 10, step: 0.01 }),
      tv_beta: numberInput("invert-beta", { min: 1, max: 4, step: 0.1 }),
      norm_weight: numberInput("invert-norm", { min: 0, max: 10, step: 0.01 }),
      alpha: numberInput("invert-alpha", { min: 1, max: 12, step: 1 }),
      step_size: numberInput("invert-lr", { min: 0.001, max: 2, step: 0.01 }),
      seed: numberInput("invert-seed", { min: 0, max: 4294967295, step: 1 }),
      steps: numberInput("invert-steps", { min: 1, max: 5000, step: 1 }),
    };
    this.clip = el("input", { id: "invert-clip", type: "checkbox" });
    const priors = el("fieldset", { class: "invert-priors" });
    priors.append(el("legend", {}, "Priors"),
      field("Total variation", this.inputs.tv_weight), field("β", this.inputs.tv_beta),
      field("α-norm", this.inputs.norm_weight), field("α", this.inputs.alpha));
    const clip = el("div", { class: "method-control invert-clip" });
    clip.append(this.clip, el("label", { for: "invert-clip" }, "Clip to the input range"));
    priors.append(clip);

    this.buttons = new JobButtons("invert", { onPauseResume, onCancel });
    form.append(what, priors, runRow(this.inputs), this.buttons.root);
    this.#write();
  }

  #write() {
    const s = this.values;
    writeNumbers(this.inputs, s);
    this.clip.checked = s.clip;
    this.mode.value = s.mode;
  }

  // The settings as the form shows them; an empty or impossible box is refused by Python
  // with a message.
  read() {
    const s = this.values;
    readNumbers(this.inputs, s);
    s.clip = this.clip.checked;
    s.mode = this.mode.value;
  }

  // The buttons for a job's state (JobRunner's).
  showState(state) {
    this.buttons.showState(state);
  }

  // `invert_start`'s settings (methods.inversion.Settings fields).
  json() {
    const { step_size, tv_weight, tv_beta, norm_weight, alpha, clip } = this.values;
    return JSON.stringify({ step_size, tv_weight, tv_beta, norm_weight, alpha, clip });
  }

  link() {
    const link = { view: "invert", clip: this.values.clip ? 1 : 0 };
    for (const [key, name] of Object.entries(LINK)) link[key] = this.values[name];
    return link;
  }

  // A link's settings; one it leaves out keeps the page's default.
  readLink(link) {
    const s = { ...DEFAULTS };
    for (const [key, name] of Object.entries(LINK)) {
      if (!link.has(key) || link.get(key) === "") continue;
      s[name] = name === "mode" ? link.get(key) : Number(link.get(key));
    }
    if (!(s.mode in MODES)) s.mode = DEFAULTS.mode;
    s.clip = !link.has("clip") || Number(link.get("clip")) !== 0;
    this.values = s;
    this.#write();
  }
}
