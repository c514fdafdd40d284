// The reader's own pictures: a file chosen ("Upload"), dropped or pasted anywhere on the page,
// or an image address. Each is read here and asked for as `image`; a dropped model file goes
// to the model picker instead.
import { clearError, showError } from "./banners.js";
import { isModelFile } from "./model-files.js";

const $ = (id) => document.getElementById(id);

/**
 * What the inputs need from the page.
 * @typedef {object} ImagePage
 * @property {() => boolean} ready  whether the controls answer (Python is up)
 * @property {(name: string, ...args: any[]) => Promise<boolean>} ask  an overview request, drawn
 * @property {() => void} refreshDetail  an open detail view follows the new picture
 * @property {(files: File[]) => void} openModels  opens dropped model files (the picker)
 */

/** @param {ImagePage} page */
async function sendFile(page, file) {
  if (!page.ready() || !file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  await page.ask("image", bytes, file.name || "pasted image");
  page.refreshDetail();
}

// The user asked for this address: the one kind of request the page makes beyond its own files.
async function sendUrl(page, address) {
  let response;
  try {
    response = await fetch(address, { mode: "cors", credentials: "omit" });
  } catch {
    showError(`Could not download ${address}: the network failed or that site does not allow other pages to read its images.`);
    return;
  }
  if (!response.ok) {
    showError(`Could not download ${address}: the server answered ${response.status} ${response.statusText}.`);
    return;
  }
  const name = decodeURIComponent(new URL(address).pathname.split("/").pop() || address);
  await sendFile(page, new File([await response.arrayBuffer()], name));
}

/** @param {ImagePage} page */
export function wireImageInputs(page) {
  $("image-url").addEventListener("input", clearError);  // the old complaint no longer applies
  $("url-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const address = $("image-url").value.trim();
    if (address) sendUrl(page, address);
  });
  document.addEventListener("paste", (event) => {
    // Pasting into the address field is typing, not an image.
    if (event.target instanceof Element && event.target.closest("input, textarea")) return;
    const file = [...event.clipboardData.files].find((f) => f.type.startsWith("image/"));
    if (file) {
      event.preventDefault();
      sendFile(page, file);
    }
  });
  $("upload").addEventListener("change", (event) => {
    sendFile(page, event.target.files[0]);
    event.target.value = "";  // choosing the same file again still fires change
  });
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    const files = [...event.dataTransfer.files];
    if (page.ready() && files.some(isModelFile)) page.openModels(files);
    else sendFile(page, files[0]);
  });
}
