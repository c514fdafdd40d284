// The "What excites it most" tab: activation maximisation (cnnlens/views/maximize.py).
// Python climbs from seeded noise towards the input that excites the selected channel,
// neuron or class most; the page asks for one short chunk of steps at a time (job.js),
// draws each answer (the picture, the target's value per step, the progress) and asks for
// the next, so the page and the worker stay free for everything else. Stop pauses (the worker keeps the job), Resume asks for chunks again, Cancel drops
// the job; a new target, image or model, or Start again, ends the running one.
import { el, fmt } from "./common.js";
import { JobPanel } from "./job-panel.js";
import { MaximizeSettings } from "./maximize-settings.js";

// The "What excites it most" tab; a method object for methods.js (views, show, link, stop).
export class MaximizePanel extends JobPanel {
  // host: the tab's panel; client: protocol.js's Client; onChange(): the link changed.
  constructor(host, client, { onChange = () => {} } = {}) {
    super(host, client, onChange, {
      name: "maximize",
      title: "What excites it most",
      settings: (calls) => new MaximizeSettings(calls),
      caption: (values, n, goal, last) => (n > 1
        ? `Each picture's target value after each step (${last} of ${goal} so far).`
        : `The target's value after each step: ${fmt(values[0])} on the starting noise, ${fmt(values[last * n])} at step ${last}.`),
    });
    this.target = null;  // {layer, channel}
  }

  // --- methods.js's calls ---

  // Shows the tab for a tile or class (JobPanel's reopen: the same target keeps its run).
  async show(layer, channel, link) {
    const same = this.target && this.target.layer === layer && this.target.channel === channel;
    if (!same) this.settings.position = null;
    this.target = { layer, channel };
    await this.reopen(same, link);
  }

  // --- the job (JobPanel runs it) ---

  // Starts a new job from the form's settings and runs it; resolves once its first state
  // is drawn.
  async start() {
    if (!this.target) return;
    this.settings.read();
    const { seed, steps } = this.settings.values;
    await this.run("maximize_start", this.settings.targetText(this.target), this.settings.json(), seed, steps);
  }

  // --- drawing (JobPanel's hooks) ---

  parts(v) {
    return v.targets.length;
  }

  marks(v) {
    return { target: v.label };
  }

  statusText(v) {
    const where = v.whole_layer ? `step ${v.step} / ${v.goal} for each of ${v.targets.length} pictures` : `step ${v.step} / ${v.goal}`;
    const value = v.whole_layer ? "" : ` · value ${fmt(v.value[0])}`;
    return `${where}${value}`;
  }

  drawStep(data, v) {
    const pictures = data.array("pictures");
    const values = data.array("values");
    v.targets.forEach((_, k) => this.paintImage(this.canvases[k], data, "pictures", k));
    this.plot.draw(values.values, pictures.shape[0], v.goal, v.value_range);
    if (v.whole_layer) {
      v.value.forEach((value, k) => { this.captions[k].lastChild.textContent = fmt(value); });
    }
    return { pictures, values };
  }

  #name(t) {
    if (t.kind === "class") return t.name;
    return t.kind === "neuron" ? `channel ${t.channel} at (${t.position.join(", ")})` : `channel ${t.channel}`;
  }

  // The pictures' canvases and the explanation, once per job.
  layout(v) {
    this.settings.follow(v);
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
    this.showAbout(v.about);
  }
}
