// "The network's code": the engine's own functions for convolution, ReLU, max pooling and
// softmax as editable cells (code-cells.js), in the app's panel and again in the article
// where each layer is explained (the same text in both), with Run, Reset, Copy link, the
// "modified" badge and the kernel editor (kernel-editor.js). Everything runs in the worker
// (py/cnnlens/live_code.py): Run sends every cell's text, and the answer is the next
// overview, drawn like any other; the learner's failing code answers with its cell and
// line, shown under that cell, and the view on screen stays.
import { CodeCell, loadEditor } from "./code-cells.js";
import { linkWith, unpack } from "./code-link.js";
import { KernelEditor } from "./kernel-editor.js";
import { decode, explain } from "./protocol.js";

// Read before app.js rewrites the address: a shared link's edits wait for the reader's yes.
const linked = new URLSearchParams(location.hash.slice(1)).get("code");

export class LiveCode {
  #client = null;
  #cells = new Map();  // cell name → [CodeCell, …] (the panel's, the article's)
  #sources = {};  // cell name → the engine's source
  #panel;
  #draw;

  // panel: #live-code; draw(answer): draws an overview answer and refreshes the open views.
  constructor(panel, { draw, showError }) {
    this.#panel = panel;
    this.#draw = draw;
    this.showError = showError;
    this.kernels = new KernelEditor(panel.querySelector('[data-testid="kernel-editor"]'), {
      send: (name, ...args) => this.#send(name, ...args),
      ask: (name, ...args) => this.#client.ask(name, ...args),
    });
    panel.querySelector('[data-testid="code-run"]').addEventListener("click", () => this.run());
    panel.querySelector('[data-testid="code-reset"]').addEventListener("click", () => this.reset());
    panel.querySelector('[data-action="copy-link"]').addEventListener("click", () => this.copyLink());
  }

  // Python is up: fill the cells with the worker's sources, then offer a shared link's edits.
  async start(client) {
    this.#client = client;
    const [{ code }, kit] = await Promise.all([client.ask("code"), loadEditor()]);
    const hosts = document.querySelectorAll("[data-code-cell]");
    for (const cell of code.cells) {
      this.#sources[cell.cell] = cell.source;
      const made = [];
      for (const host of hosts) {
        if (host.dataset.codeCell !== cell.cell) continue;
        host.hidden = false;
        made.push(new CodeCell(host.querySelector(".code-cell-slot") || host, cell, kit, {
          onRun: () => this.run(),
          onEdit: (edited) => this.#follow(edited),
        }));
      }
      this.#cells.set(cell.cell, made);
    }
    for (const button of document.querySelectorAll("[data-code-run]")) button.addEventListener("click", () => this.run());
    this.#panel.dataset.state = "ready";
    this.#status("Edit a function, then Run (or Ctrl+Enter in the code).");
    if (linked) await this.#offer(linked);
  }

  // An edit in one copy of a cell shows in the other.
  #follow(edited) {
    for (const cell of this.#cells.get(edited.name)) if (cell !== edited) cell.text = edited.text;
    this.#status(`Edited ${edited.name}: press Run (Ctrl+Enter) to compute with it.`);
  }

  #texts() {
    return Object.fromEntries([...this.#cells].map(([name, cells]) => [name, cells[0].text]));
  }

  #status(text) {
    this.#panel.querySelector('[data-part="status"]').textContent = text;
  }

  #clearErrors() {
    for (const cells of this.#cells.values()) for (const cell of cells) cell.clearError();
  }

  // Sends an overview request; draws the answer, or shows the learner's error under its
  // cell (another error in the banner). Resolves to whether it was drawn.
  async #send(name, ...args) {
    if (!this.#client) return false;
    this.#panel.dataset.state = "running";
    try {
      const raw = await this.#client.send(name, ...args);
      if (raw?.error !== undefined && raw.cell !== undefined) {
        this.#clearErrors();
        for (const cell of this.#cells.get(raw.cell) || []) cell.showError(raw.line, raw.error.replace(/^\w+, line \d+: /, ""));
        this.#status("Not run: the network keeps its previous results.");
        return false;
      }
      this.#draw(decode(name, raw));
      this.#clearErrors();
      return true;
    } catch (error) {
      this.showError(explain(error));
      return false;
    } finally {
      this.#panel.dataset.state = "ready";
    }
  }

  async run() {
    this.#status("Running…");
    if (await this.#send("code_run", JSON.stringify(this.#texts()))) this.#status("Every view now shows the network with your code.");
  }

  async reset() {
    if (!(await this.#send("code_reset"))) return;
    for (const [name, cells] of this.#cells) for (const cell of cells) cell.text = this.#sources[name];
    this.kernels.refresh();
    this.#status("The engine's own code and kernels again.");
  }

  // The badge follows every overview drawn (`modified`: what the worker runs edited), and
  // the kernel editor its model.
  sync(view) {
    this.kernels.showModel(view.model);
    const badge = document.querySelector('[data-testid="modified"]');
    const modified = view.modified || [];
    badge.hidden = modified.length === 0;
    badge.textContent = modified.length ? `Modified: ${modified.join(", ")}` : "";
    badge.title = modified.length ? "The network runs your code or kernels; Reset restores it." : "";
  }

  async copyLink() {
    const { code } = await this.#client.ask("code");
    const edits = {
      code: Object.fromEntries(code.cells.filter((c) => c.text !== c.source).map((c) => [c.cell, c.text])),
      kernels: code.kernels,
    };
    const link = await linkWith(edits);
    const field = this.#panel.querySelector('[data-testid="code-link"]');
    field.value = link;
    field.hidden = false;
    field.select();
    try {
      await navigator.clipboard.writeText(link);
      this.#status("Link copied: it opens this page with your edits, after showing them.");
    } catch {
      this.#status("Copy the link from the box (the browser did not allow copying).");
    }
  }

  // A link's edits: shown in a dialog; they run only when the reader says so.
  async #offer(value) {
    let edits;
    try {
      edits = await unpack(value);
    } catch (error) {
      this.showError(`The link's code could not be read (${error.message}); nothing was run.`);
      return;
    }
    const dialog = document.getElementById("code-notice");
    const listing = Object.entries(edits.code).map(([cell, text]) => `# ${cell}\n${text}`);
    for (const k of edits.kernels) listing.push(`# kernel of ${k.layer} #${k.channel}${k.input_channel >= 0 ? `, input ${k.input_channel}` : ""}\n${JSON.stringify(k.values)}`);
    dialog.querySelector('[data-part="code"]').textContent = listing.join("\n\n");
    dialog.returnValue = "";
    for (const button of dialog.querySelectorAll("[data-answer]")) {
      button.addEventListener("click", () => dialog.close(button.dataset.answer), { once: true });
    }
    const answer = new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true }));
    dialog.showModal();
    if ((await answer) !== "run") return;
    for (const [cell, text] of Object.entries(edits.code)) for (const made of this.#cells.get(cell) || []) made.text = text;
    for (const k of edits.kernels) await this.#send("kernel_set", k.layer, k.channel, k.input_channel, JSON.stringify(k.values));
    if (Object.keys(edits.code).length) await this.run();
  }
}
