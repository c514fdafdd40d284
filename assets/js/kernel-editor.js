// The kernel editor: the selected convolution neuron's k×k weights on one input channel as a
// grid of numbers, with the classic filters as presets; Apply sets them for that neuron only
// (the worker's `kernel_set`, live_code.py), and every view follows. It follows the detail
// view: a conv neuron opened there is the one edited, until another model is on screen.

// 3×3 classics; a larger odd kernel gets them in its centre, zeros around.
const PRESETS = {
  identity: [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
  box: [[1 / 9, 1 / 9, 1 / 9], [1 / 9, 1 / 9, 1 / 9], [1 / 9, 1 / 9, 1 / 9]],
  gaussian: [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
  sharpen: [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
  "sobel-x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
  "sobel-y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
  laplacian: [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
};
const LABELS = {
  identity: "Identity", box: "Box blur", gaussian: "Gaussian blur", sharpen: "Sharpen",
  "sobel-x": "Sobel x", "sobel-y": "Sobel y", laplacian: "Laplacian",
};

// `preset` as a size × size kernel, or null when it does not fit (an even or smaller one).
export function presetKernel(preset, size) {
  const base = PRESETS[preset];
  if (size < 3 || size % 2 === 0) return null;
  const at = (size - 3) / 2;
  return Array.from({ length: size }, (_row, y) => Array.from({ length: size }, (_col, x) => base[y - at]?.[x - at] ?? 0));
}

function element(tag, attributes = {}, text = "") {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  if (text) made.textContent = text;
  return made;
}

export class KernelEditor {
  #host;
  #send;
  #ask;
  #target = null;  // {layer, channel}
  #kernel = null;  // the worker's `kernel` answer
  #model = null;  // the model on screen (the overview's `model`), whose neuron is edited

  // send(name, ...args): an overview request, drawn (resolves to whether it was);
  // ask(name, ...args): any other request, decoded.
  constructor(host, { send, ask }) {
    this.#host = host;
    this.#send = send;
    this.#ask = ask;
    this.#empty();
  }

  #empty(hint = "Open a convolution neuron (click a conv tile) to edit its kernel here.") {
    this.#host.replaceChildren(element("h3", {}, "Kernel editor"), element("p", { class: "kernel-hint" }, hint));
    delete this.#host.dataset.layer;
    delete this.#host.dataset.channel;
  }

  // Every overview drawn: on another model (its file or name; a layer of the same name is
  // another neuron) the previous model's neuron is no longer the one edited.
  showModel({ name, file }) {
    const model = `${file}\n${name}`;
    const changed = this.#model !== null && model !== this.#model;
    this.#model = model;
    if (!changed || !this.#target) return;
    this.#target = null;
    this.#kernel = null;
    this.#empty(`The model is now ${name}: open one of its convolution neurons (click a conv tile) to edit its kernel here.`);
  }

  // The detail view shows (layer, channel) of `kind`: a conv neuron becomes the one edited.
  async follow(layer, channel, kind) {
    if (kind !== "conv") return;
    this.#target = { layer, channel };
    await this.refresh();
  }

  async refresh() {
    if (!this.#target) return;
    const { layer, channel } = this.#target;
    let answer;
    try {
      answer = await this.#ask("kernel", layer, channel);
    } catch {
      this.#target = null;
      this.#empty();
      return;
    }
    this.#kernel = answer.kernel;
    this.#render(0);
  }

  #render(input) {
    const k = this.#kernel;
    const [channels, rows, cols] = [k.values.length, k.values[0].length, k.values[0][0].length];
    const title = element("h3", {}, `Kernel of ${k.layer}, neuron ${k.channel}`);
    const select = element("select", { "aria-label": "Input channel" });
    for (let c = 0; c < channels; c += 1) select.append(new Option(`input channel ${c}`, String(c), c === input, c === input));
    select.addEventListener("change", () => this.#render(Number(select.value)));
    const grid = element("div", { class: "kernel-grid", role: "group", "aria-label": `${rows}×${cols} weights` });
    grid.style.gridTemplateColumns = `repeat(${cols}, minmax(3.5rem, 4.5rem))`;  // CSSOM: allowed by the CSP
    const inputs = [];
    k.values[input].forEach((row, y) => row.forEach((value, x) => {
      const box = element("input", { type: "number", step: "any", "aria-label": `weight row ${y + 1}, column ${x + 1}`, "data-y": y, "data-x": x });
      box.value = String(Number(value.toPrecision(4)));
      inputs.push(box);
      grid.append(box);
    }));
    const presets = element("div", { class: "kernel-presets", role: "group", "aria-label": "Presets" });
    for (const [name, label] of Object.entries(LABELS)) {
      const button = element("button", { type: "button", class: "secondary", "data-preset": name }, label);
      const values = presetKernel(name, rows);
      button.disabled = values === null || rows !== cols;
      button.addEventListener("click", () => inputs.forEach((box) => { box.value = String(values[box.dataset.y][box.dataset.x]); }));
      presets.append(button);
    }
    const all = element("input", { type: "checkbox", id: "kernel-all" });
    const allLabel = element("label", { for: "kernel-all" }, `every input channel (${channels})`);
    const apply = element("button", { type: "button", "data-action": "apply" }, "Apply to this neuron");
    const original = element("button", { type: "button", class: "secondary", "data-action": "original" }, "Trained weights");
    original.addEventListener("click", () => inputs.forEach((box) => { box.value = String(Number(k.original[input][box.dataset.y][box.dataset.x].toPrecision(8))); }));
    apply.addEventListener("click", async () => {
      const values = Array.from({ length: rows }, (_, y) => inputs.slice(y * cols, (y + 1) * cols).map((box) => Number(box.value)));
      if (await this.#send("kernel_set", k.layer, k.channel, all.checked ? -1 : input, JSON.stringify(values))) await this.refresh();
    });
    const choose = element("p", { class: "kernel-row" });
    choose.append(select, " ", all, " ", allLabel);
    const actions = element("p", { class: "kernel-row" });
    actions.append(apply, " ", original);
    this.#host.replaceChildren(title, choose, grid, presets, actions);
    this.#host.dataset.layer = k.layer;
    this.#host.dataset.channel = String(k.channel);
  }
}
