// The "What it keeps" tab: network inversion (cnnlens/views/invert.py). Python searches,
// from seeded noise, for an input whose activations at the selected tile's layer match the
// image's; the page asks for one short chunk of steps at a time (job.js) and draws each
// answer: the original beside the reconstructions (one; or plain, binarised and dropped
// out; or one per layer), each with its relative errors, the loss per step and the
// progress. Stop pauses, Resume continues, Cancel drops the job; a new layer, image or
// model, or Start again, ends the running one.
import { el, fmt } from "./common.js";
import { InvertSettings } from "./invert-settings.js";
import { JobPanel } from "./job-panel.js";

export class InvertPanel extends JobPanel {
  // host: the tab's panel; client: protocol.js's Client; onChange(): the link changed.
  constructor(host, client, { onChange = () => {} } = {}) {
    super(host, client, onChange, {
      name: "invert",
      title: "What this layer keeps",
      classes: "invert",
      settings: (calls) => new InvertSettings(calls),
      caption: (values, n, goal, last) => (n > 1
        ? `Each reconstruction's loss after each step (${last} of ${goal} so far).`
        : `The loss after each step: ${fmt(values[0])} on the starting noise, ${fmt(values[last])} at step ${last}.`),
    });
    this.layer = null;
  }

  // --- methods.js's calls ---

  // Shows the tab for a tile's layer (its channel does not matter: the whole layer is
  // inverted; JobPanel's reopen: the same layer keeps its run).
  async show(layer, _channel, link) {
    const same = this.layer === layer;
    this.layer = layer;
    await this.reopen(same, link);
  }

  // --- the job (JobPanel runs it) ---

  async start() {
    if (!this.layer) return;
    this.settings.read();
    const { mode, seed, steps } = this.settings.values;
    await this.run("invert_start", this.layer, mode, this.settings.json(), seed, steps);
  }

  // --- drawing (JobPanel's hooks) ---

  parts(v) {
    return v.parts.length;
  }

  marks(v) {
    return { layer: v.layer, mode: v.mode };
  }

  statusText(v) {
    const each = v.parts.length > 1 ? ` for each of ${v.parts.length} reconstructions` : "";
    const loss = v.parts.length > 1 ? "" : ` · loss ${fmt(v.parts[0].loss)}`;
    return `step ${v.step} / ${v.goal}${each}${loss}`;
  }

  drawStep(data, v) {
    this.paintImage(this.canvases[0], data, "original", 0);
    v.parts.forEach((part, k) => {
      this.paintImage(this.canvases[k + 1], data, "pictures", k);
      this.errors[k].input.textContent = `input error ${fmt(part.input_error)}`;
      this.errors[k].activation.textContent = `activation error ${fmt(part.activation_error)}`;
    });
    const losses = data.array("losses");
    this.plot.draw(losses.values, v.parts.length, v.goal, v.loss_range);
    return { original: data.array("original"), pictures: data.array("pictures"), losses };
  }

  // The canvases, captions and explanation, once per job.
  layout(v) {
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
    this.showAbout(v.about);
  }
}
