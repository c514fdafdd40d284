// The preprocessing form: how pictures become the model's input (size, mean and std per
// channel, channel order, pixel scale). It opens by itself when a model that does not say
// (no `cnnlens.preprocessing` in its metadata) comes on screen, and from "Preprocessing…"
// for any model. Python checks every value (py/cnnlens/preprocess_settings.py); a bad one
// is said here and the model's current preprocessing and view stay.

const PRESETS = {
  plain: { mean: "0", std: "1", pixels: "0-1" },
  imagenet: { mean: "0.485, 0.456, 0.406", std: "0.229, 0.224, 0.225", pixels: "0-1", order: "RGB" },
};

const INTRO = {
  defaults: "This model does not say how its pictures were prepared, so it runs on plain pixels: scaled to 0–1, mean 0 and std 1 for every channel, in RGB order. If it was trained otherwise, say so here. Models trained on ImageNet with torchvision expect ImageNet's mean and std; Caffe and OpenCV models often take BGR pixels of 0–255 with a mean subtracted.",
  metadata: "This is what the model's card says. Change it to see how the network answers to other preprocessing; “Model's own” brings the card's back.",
  reader: "You set this preprocessing; the link carries it. “Model's own” goes back to what the model says.",
};

const FIELDS = ["size", "mean", "std", "order", "pixels"];

/**
 * What the form needs from the page.
 * @typedef {object} FormPage
 * @property {() => boolean} ready  whether the worker answers (the client is up)
 * @property {(name: string, ...args: any[]) => Promise<any>} request  a decoded worker request
 * @property {(settings: string) => Promise<string|null>} apply  sends `preprocess(settings)`
 *   and draws its overview; the error's message, or null when drawn
 * @property {() => void} onChange  the preprocessing in use changed (the address follows it)
 */

export class PreprocessForm {
  /** @param {HTMLFormElement} form @param {HTMLButtonElement} opener @param {FormPage} page */
  constructor(form, opener, page) {
    this.form = form;
    this.opener = opener;
    this.page = page;
    this.state = null;  // the worker's PreprocessingAnswer.preprocessing, or null: not asked yet
    this.model = null;  // which model `state` belongs to (file, name, input shape)
    opener.addEventListener("click", () => (form.hidden ? this.open() : this.close()));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(this.values());
    });
    form.querySelector("[data-action=reset]").addEventListener("click", () => this.submit(""));
    form.querySelector("[data-action=close]").addEventListener("click", () => this.close());
    for (const button of form.querySelectorAll("[data-preset]")) {
      button.addEventListener("click", () => this.fill({ ...this.values(), ...PRESETS[button.dataset.preset] }));
    }
  }

  // After every overview drawn: a new model's preprocessing is asked for (and the form
  // opens when the model does not say), and so is the reader's own after each redraw,
  // which a new model ends. A model is known by what preprocessing cannot change (the
  // input size can).
  async follow(view) {
    const model = `${view.model.file}\n${view.model.name}\n${view.columns.length}\n${view.columns[0].shape[0]}`;
    const changed = model !== this.model;
    if (!changed && this.state?.source !== "reader") return;
    if (changed) this.state = null;
    this.model = model;
    if (!this.page.ready()) return;
    await this.refresh();
    if (changed && this.state?.source === "defaults") this.open({ focus: false });
    else if (changed) this.close();
  }

  async refresh() {
    try {
      this.state = (await this.page.request("preprocessing")).preprocessing;
    } catch {
      return;  // nothing on screen yet; the next overview asks again
    }
    this.fill(this.state.fields);
    this.form.dataset.source = this.state.source;
    this.form.querySelector("[data-part=intro]").textContent = INTRO[this.state.source];
    const size = this.form.elements.size;
    size.readOnly = this.state.size_fixed;
    this.form.querySelector("[data-part=size-note]").textContent = this.state.size_fixed ? "fixed by the model's input" : "height × width, or one number for both";
    this.form.querySelector("[data-part=order]").hidden = this.state.channels !== 3;
    this.form.querySelector("[data-preset=imagenet]").hidden = this.state.channels !== 3;
    this.page.onChange();
  }

  async open({ focus = true } = {}) {
    if (!this.state) await this.refresh();
    this.say("");
    this.form.hidden = false;
    this.opener.setAttribute("aria-expanded", "true");
    if (focus) this.form.elements.mean.focus();
  }

  close() {
    this.form.hidden = true;
    this.opener.setAttribute("aria-expanded", "false");
  }

  // The form's text, as typed (Python reads and checks it).
  values() {
    const elements = this.form.elements;
    const values = { size: elements.size.value, mean: elements.mean.value, std: elements.std.value, order: elements.order.value };
    if (elements.pixels.value) values.pixels = elements.pixels.value;
    return values;
  }

  fill(fields) {
    const elements = this.form.elements;
    for (const name of FIELDS) {
      if (fields[name] === undefined) continue;
      const text = name === "mean" || name === "std" ? fields[name].split(",").map((part) => part.trim()).join(", ") : fields[name];
      elements[name].value = name === "size" ? text.replace("x", " × ") : text;
    }
    if (fields.pixels === undefined) elements.pixels.value = "";
  }

  say(message) {
    const box = this.form.querySelector("[data-part=error]");
    box.textContent = message;
    box.hidden = !message;
  }

  // `fields`: the form's text, or "" for the model's own. Resolves to whether it was applied.
  async submit(fields) {
    this.form.dataset.busy = "true";
    const error = await this.page.apply(fields === "" ? "" : JSON.stringify(fields));
    delete this.form.dataset.busy;
    this.say(error || "");
    if (error) return false;
    await this.refresh();
    return true;
  }

  // The address's keys for the reader's own preprocessing (none for the model's own).
  link() {
    if (this.state?.source !== "reader") return {};
    return Object.fromEntries(Object.entries(this.state.fields).map(([key, value]) => [`pre-${key}`, value]));
  }

  // A link's `pre-*` keys: applied unless they are what is on screen already.
  async restore(params) {
    const fields = {};
    for (const name of FIELDS) {
      if (params.has(`pre-${name}`)) fields[name] = params.get(`pre-${name}`);
    }
    if (!Object.keys(fields).length) return true;
    if (!this.state) await this.refresh();
    const same = this.state?.source === "reader" && Object.entries(fields).every(([k, v]) => this.state.fields[k] === v);
    if (same) return true;
    const applied = await this.submit(fields);
    if (!applied) this.open({ focus: false });  // its message says what was wrong with the link
    return applied;
  }
}
