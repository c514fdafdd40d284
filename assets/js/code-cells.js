// One editable Python cell: CodeMirror (the copy vendored with PyScript, build/vendor/pyscript/,
// pinned in build/manifest.json) with Python highlighting, line numbers and its keymap;
// Ctrl/Cmd+Enter runs. The text comes from the worker (live_code.py reads the engine's own
// source); the cell only shows it, takes edits and shows where the learner's code failed.
// Each editor lives in a shadow root: CodeMirror then styles it with constructed style sheets
// (adoptedStyleSheets), which the page's CSP (style-src 'self') allows; in the document it
// would add <style> elements, which the CSP refuses.

// PyScript's own chunk names (build/site.py ships them with the site).
const CODEMIRROR = "../../build/vendor/pyscript/codemirror-BL6UELQn.js";
const PYTHON = "../../build/vendor/pyscript/codemirror_lang-python-B9xSeck3.js";

let kit = null;

// The page's look inside the shadow root (app.css cannot reach it).
const THEME = (EditorView) => EditorView.theme({
  "&": { fontSize: "0.8rem", maxHeight: "22rem", backgroundColor: "#ffffff" },
  "&.cm-focused": { outline: "3px solid #0b5cad", outlineOffset: "1px" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace", overflow: "auto" },
  ".cm-gutters": { backgroundColor: "#f4f6f9", color: "#4a5263" },
});

// Loaded once, when the first cell is made (after Python is up: nothing before needs it).
export function loadEditor() {
  kit ??= Promise.all([import(CODEMIRROR), import(PYTHON)]).then(([cm, lang]) => ({
    EditorView: cm.EditorView,
    basicSetup: cm.basicSetup,
    python: lang.python,
  }));
  return kit;
}

function element(tag, attributes = {}, text = "") {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  if (text) made.textContent = text;
  return made;
}

export class CodeCell {
  #view;
  #error;
  #silent = false;

  // host: the cell's element; cell: one entry of the `code` answer's `cells`;
  // onRun(): Ctrl/Cmd+Enter; onEdit(cell): the learner changed the text.
  constructor(host, cell, { EditorView, basicSetup, python }, { onRun, onEdit }) {
    this.name = cell.cell;
    host.classList.add("code-cell");
    host.replaceChildren();
    const head = element("p", { class: "code-cell-head" });
    const who = cell.op === "Softmax" ? "the class probabilities come from it" : `the ${cell.op} layers run it`;
    head.append(element("code", {}, `${cell.function}()`), ` — ${who} (${cell.module}, line ${cell.line})`);
    const box = element("div", { class: "code-cell-editor" });
    const shadow = box.attachShadow({ mode: "open" });
    this.#error = element("p", { class: "code-error", role: "alert", "data-part": "error" });
    this.#error.hidden = true;
    host.append(head, box, this.#error);
    this.host = host;
    this.#view = new EditorView({
      doc: cell.text,
      parent: shadow,
      root: shadow,
      extensions: [
        basicSetup,
        python(),
        THEME(EditorView),
        EditorView.contentAttributes.of({ "aria-label": `Python code of ${cell.function}, Ctrl+Enter runs it` }),
        EditorView.domEventHandlers({
          keydown: (event) => {
            if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return false;
            event.preventDefault();
            onRun();
            return true;
          },
        }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged && !this.#silent) onEdit(this);
        }),
      ],
    });
  }

  get text() {
    return this.#view.state.doc.toString();
  }

  // Replaces the text without counting it as the learner's edit (another cell's, Reset).
  set text(value) {
    if (value === this.text) return;
    this.#silent = true;
    this.#view.dispatch({ changes: { from: 0, to: this.#view.state.doc.length, insert: value } });
    this.#silent = false;
  }

  // The learner's code failed at `line` (1-based): said under the cell, the cursor put there.
  showError(line, message) {
    this.#error.textContent = `Line ${line}: ${message}`;
    this.#error.hidden = false;
    this.host.dataset.errorLine = String(line);
    const doc = this.#view.state.doc;
    const at = doc.line(Math.min(Math.max(line, 1), doc.lines));
    this.#view.dispatch({ selection: { anchor: at.from, head: at.to }, scrollIntoView: true });
  }

  clearError() {
    this.#error.hidden = true;
    this.#error.textContent = "";
    delete this.host.dataset.errorLine;
  }
}
