// "Embed": a dialog with the HTML that shows the current view alone on another site (an
// <iframe> of embed.html, plus the host-side resizer), and a button to copy it.
const $ = (id) => document.getElementById(id);

/**
 * What the dialog reads from the page.
 * @typedef {object} EmbedPage
 * @property {() => any} current  the overview view on screen
 * @property {import("./methods.js").MethodTabs} tabs  the detail panel's method tabs
 * @property {import("./model-picker.js").ModelPicker} picker
 * @property {() => void} unhover  the overview's hover card goes (the dialog covers it)
 */

/** @param {EmbedPage} page */
function embedCode(page) {
  const current = page.current();
  const panel = $("detail");
  const kinds = { conv: "conv", relu: "relu", pool: "pool", flatten: "class" };
  const method = panel.hidden ? {} : page.tabs.link();  // a method tab: its own view, e.g. gradcam
  const kind = method.view || (panel.hidden ? "overview" : kinds[panel.dataset.kind] || "overview");
  const params = new URLSearchParams({ view: kind, image: current.image, range: current.mode });
  const { picker } = page;
  if (picker.id && picker.id !== picker.catalogue[0]?.id) params.set("model", picker.id);
  if (kind !== "overview") {
    params.set("layer", panel.dataset.layer);
    params.set("channel", panel.dataset.channel);
  }
  for (const [key, value] of Object.entries(method)) params.set(key, value);
  const src = new URL(`embed.html#${params}`, document.baseURI).href;
  const resizer = new URL("assets/embed.js", document.baseURI).href;
  const what = `${panel.dataset.layer} ${panel.dataset.kind === "flatten" ? "class" : "channel"} ${panel.dataset.channel}`;
  const title = kind === "overview" ? "cnnlens: network overview" : method.view ? `cnnlens: ${method.view} of ${what}` : `cnnlens: ${what}`;
  // Written as text: an element with a style attribute, even one never shown, is inline
  // style that this page's own Content-Security-Policy refuses.
  const attr = (value) => value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const frame = `<iframe src="${attr(src)}" title="${attr(title)}" loading="lazy" style="width: 100%; height: 480px; border: 0;"></iframe>`;
  return `${frame}\n<script src="${attr(resizer)}" async></script>`;
}

/** @param {EmbedPage} page */
export function wireEmbedDialog(page) {
  $("embed-button").addEventListener("click", () => {
    if (!page.current()) return;
    $("embed-code").value = embedCode(page);
    page.unhover();
    $("embed-dialog").showModal();
    $("embed-code").select();
  });
  $("embed-copy").addEventListener("click", () => navigator.clipboard?.writeText($("embed-code").value));
  $("embed-close").addEventListener("click", () => $("embed-dialog").close());
}
