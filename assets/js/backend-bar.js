// Where the network on screen ran: WebGPU or NumPy (`[data-testid="backend"]`), the forward
// pass's time, which backend ran each layer, why NumPy runs when the GPU is not there (or
// was lost), and the switch that forces one backend so a teacher can show what a GPU buys.
// It draws only what the worker said: an overview answer's `backend`
// (py/cnnlens/backend_requests.py `label`). Gradients always run on NumPy; the detail
// panel's gradient tabs say so while the forward pass runs on WebGPU.

const LABEL = { WebGPU: "WebGPU", NumPy: "NumPy" };

export class BackendBar {
  #root;
  #last = null;

  /**
   * @param {HTMLElement} root  the bar (`#backend-bar`)
   * @param {{choose: (choice: string) => Promise<void>}} page  asks `backend(choice)`
   */
  constructor(root, page) {
    this.#root = root;
    this.part("choice").addEventListener("change", (event) => page.choose(event.target.value));
  }

  part(name) {
    return this.#root.querySelector(`[data-part="${name}"]`);
  }

  /** The switch's value for the link: "webgpu" or "numpy", "" when left on automatic. */
  link() {
    const choice = this.#last?.choice || "auto";
    return choice === "auto" ? "" : choice;
  }

  /** @param {?object} backend  the decoded `backend` of an OverviewAnswer (null: not yet) */
  show(backend) {
    if (!backend) return;
    this.#last = backend;
    this.#root.hidden = false;
    this.#root.dataset.backend = backend.backend;
    const name = this.part("name");
    name.textContent = LABEL[backend.backend] || backend.backend;
    name.title = backend.gpu || "";
    const first = backend.first ? " (its first pass: weights sent, kernels compiled)" : "";
    this.part("time").textContent = backend.forward_ms === null ? "" : `${formatMs(backend.forward_ms)}${first}`;
    this.part("choice").value = backend.choice;
    this.part("choice").querySelector('[value="webgpu"]').disabled = !backend.available && backend.choice !== "webgpu";
    const note = this.part("note");
    note.textContent = backend.note || "";
    note.hidden = !backend.note;
    this.#layers(backend.layers);
    document.documentElement.dataset.cnnlensBackend = backend.backend;
  }

  #layers(layers) {
    const counts = { WebGPU: 0, NumPy: 0 };
    const rows = layers.map(({ node, op, backend }) => {
      counts[backend] = (counts[backend] || 0) + 1;
      const row = document.createElement("tr");
      row.dataset.backend = backend;
      for (const text of [node, op, backend]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    });
    this.part("rows").replaceChildren(...rows);
    this.part("summary").textContent = layers.length
      ? `Per layer (WebGPU ${counts.WebGPU}, NumPy ${counts.NumPy})`
      : "Per layer";
  }
}

function formatMs(ms) {
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}
