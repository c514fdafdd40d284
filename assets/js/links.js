// The page's address as a shareable link: what it carries (model, image, colour range, the
// open detail view and its method tab's settings) and restoring it, step by step, through
// the page's own requests. Only the site's own models and examples can be restored: a file
// someone opened from their computer is not part of the site, and the link says so.

/**
 * What the address carries.
 * @typedef {object} LinkState
 * @property {string} model  a catalogue id, or the file name of a model the user opened
 * @property {string} image
 * @property {string} range  the colour range mode
 * @property {string} backend  the backend the reader forced (`webgpu`, `numpy`), "" for automatic
 * @property {Object<string, string>} preprocessing  the reader's own (`pre-size`, `pre-mean`,
 *   `pre-std`, `pre-order`, `pre-pixels`: PreprocessForm.link()); empty for the model's own
 * @property {{layer: string, channel: string, method: Object<string, string>}|null} detail
 *   the open detail view; `method` is its tab's own keys (MethodTabs.link())
 */

/** @param {LinkState} state */
export function writeHash(state) {
  const params = new URLSearchParams({ model: state.model, image: state.image, range: state.range, ...state.preprocessing });
  if (state.backend) params.set("backend", state.backend);
  if (state.detail) {
    params.set("layer", state.detail.layer);
    params.set("channel", state.detail.channel);
    for (const [key, value] of Object.entries(state.detail.method)) params.set(key, value);
  }
  history.replaceState(null, "", `#${params}`);
}

export function readHash() {
  return new URLSearchParams(location.hash.slice(1));
}

/**
 * What restoring a link may do to the page.
 * @typedef {object} LinkPage
 * @property {import("./model-picker.js").ModelPicker} picker
 * @property {() => any} current  the overview view on screen
 * @property {(params: URLSearchParams) => Promise<boolean>} preprocess  applies the link's
 *   `pre-*` keys (none: nothing changes); whether the preprocessing on screen is the link's
 * @property {(file: string) => boolean} hasExample  whether the examples strip has `file`
 * @property {() => string} backend  the backend forced on screen ("" for automatic)
 * @property {(name: string, ...args: any[]) => Promise<boolean>} ask  an overview request, drawn
 * @property {(message: string) => void} showError
 * @property {(layer: string, channel: number, params: URLSearchParams) => Promise<void>} openDetail
 *   opens the detail view (and the tab `params` names) when the overview has that tile
 */

/**
 * Restores what `params` names, in order: model, preprocessing, image, backend, colour
 * range, detail.
 * @param {URLSearchParams} params
 * @param {LinkPage} page
 */
export async function restore(params, page) {
  const notes = [];
  const current = page.current;
  const linked = params.get("model");
  const entry = page.picker.linked(linked);
  if (entry && entry.id !== page.picker.id) {
    if (!(await page.picker.open(entry.id))) return;
  } else if (linked && !entry && linked !== current().model.file) {
    notes.push(`The model “${linked}” in this link is not in this site's catalogue (someone may have opened it from their own computer), so it is not part of the site; showing ${current().model.name} instead.`);
  }
  // The link's preprocessing was meant for its model only.
  if (!notes.length) await page.preprocess(params);
  const file = params.get("image");
  if (file && file !== current().image) {
    if (page.hasExample(file)) {
      await page.ask("example", file);
    } else {
      notes.push(`The image “${file}” in this link was uploaded by someone, so it is not part of the site; showing an example instead.`);
    }
  }
  const backend = params.get("backend") || "";
  if (backend !== page.backend()) await page.ask("backend", backend || "auto");
  if (notes.length) page.showError(notes.join(" "));
  const mode = params.get("range");
  if (mode && mode !== current().mode) await page.ask("mode", mode);
  const layer = params.get("layer");
  if (layer !== null) await page.openDetail(layer, Number(params.get("channel")), params);
}
