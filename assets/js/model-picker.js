// The model picker: the site's catalogue in the "Model" <select>, which model is on screen
// (a catalogue id, or null for one the user opened from their computer), its "untrained"
// badge and note, and opening models. It asks the worker and hands every answer to the page
// to draw; a failure keeps the model on screen and says why.
import { baseName, readModelFiles } from "./model-files.js";
import { explain } from "./protocol.js";

const $ = (id) => document.getElementById(id);

/**
 * What the picker needs from the page.
 * @typedef {object} PickerPage
 * @property {(name: string, ...args: any[]) => Promise<any>} request  a decoded worker request (Client.ask)
 * @property {(answer: any) => void} draw  draws a ModelOpened answer (its examples strip and overview)
 * @property {(name: string, ...args: any[]) => Promise<boolean>} ask  an overview request, drawn; whether it was
 * @property {() => any} current  the overview view on screen
 * @property {(message: string) => void} showError
 * @property {() => void} halt  stops asking for the running job's chunks (job.js haltJob: a new model ends the job)
 * @property {() => void} onChange  the model on screen changed (the address follows it)
 */

export class ModelPicker {
  /** @param {PickerPage} page */
  constructor(page) {
    this.page = page;
    this.catalogue = [];  // the site's models (assets/models/index.json, via the worker's start)
    this.id = null;  // the catalogue id of the model on screen; null: one the user opened
  }

  // The start answer's catalogue and model: fills the <select>, bundled model first.
  fill(catalogue, id) {
    this.catalogue = catalogue;
    this.id = id;
    const group = (label, entries) => {
      const element = document.createElement("optgroup");
      element.label = label;
      element.append(...entries.map((entry) => new Option(entry.untrained ? `${entry.name} (untrained)` : entry.name, entry.id)));
      return element;
    };
    const own = new Option("Your model", "");
    own.id = "model-own";
    own.disabled = true;
    own.hidden = true;
    $("model-select").replaceChildren(
      own,
      group("Trained", catalogue.filter((e) => !e.untrained)),
      group("Architecture gallery (random weights)", catalogue.filter((e) => e.untrained)),
    );
  }

  entryOf(id) {
    return this.catalogue.find((entry) => entry.id === id) || null;
  }

  // The catalogue entry a link's `model=` names: an id, or (older links) the model's file name.
  linked(name) {
    return this.entryOf(name) || this.catalogue.find((e) => baseName(e.file) === name) || null;
  }

  // The picker, the "untrained" badge and the note follow the model on screen.
  sync(view) {
    const entry = this.entryOf(this.id);
    const own = $("model-own");
    own.hidden = entry !== null;
    own.textContent = `Your model: ${view.model.file}`;
    $("model-select").value = entry ? entry.id : "";
    // The catalogue says so for its gallery; a gallery file opened by hand has it in its card.
    $("model-badge").hidden = !(entry ? entry.untrained : /\(untrained\)/.test(view.model.name));
    if (!entry) {
      setNote("");
      return;
    }
    const shape = view.columns[0].shape.join(" × ");
    const parts = [entry.note];
    if (entry.untrained) parts.push("Its weights are random (seeded He initialisation), not trained: its predictions mean nothing, but its shapes, channels and connections are the real network's.");
    if (!entry.examples) parts.push(`It has no examples of its own: it runs on the current image, resized to ${shape} by its preprocessing.`);
    setNote(parts.join(" "));
  }

  // Opens catalogue model `id`; resolves to whether it was drawn.
  async open(id) {
    const entry = this.entryOf(id);
    if (!entry) {
      this.page.showError(`There is no model “${id}” in this site's catalogue; showing ${this.page.current().model.name} instead.`);
      return false;
    }
    this.page.halt();
    const select = $("model-select");
    select.disabled = true;
    $("model-picker").dataset.busy = "true";
    // The large gallery nets take seconds (mostly building the overview): say so meanwhile.
    setNote(`Opening ${entry.name}${entry.untrained ? " (untrained)" : ""}… ${entry.note}`);
    try {
      const answer = await this.page.request("open_model", id);
      this.id = id;
      this.page.draw(answer);
      return true;
    } catch (error) {
      this.page.showError(explain(error));
      this.sync(this.page.current());
      return false;
    } finally {
      select.disabled = false;
      delete $("model-picker").dataset.busy;
    }
  }

  // An .onnx file, or a TF.js model.json with its weight shards (model-files.js), from the
  // user's computer: it has no catalogue id.
  async openFiles(list) {
    let request;
    try {
      request = await readModelFiles(list);
    } catch (error) {
      this.page.showError(error.message);
      return false;
    }
    const drawn = await this.page.ask(request.name, ...request.args);
    if (drawn) {
      this.id = null;
      this.sync(this.page.current());
      this.page.onChange();
    }
    return drawn;
  }
}

function setNote(text) {
  $("model-note").textContent = text;
  $("model-note").hidden = !text;
}
