// Offline support for the built site (dist/, made by build/site.py): registers the service
// worker once the page has booted, shows "Available offline" when every file of this release
// is cached, reloads when a new release takes over, and explains a boot that failed because
// the visit started offline before anything was cached. Independent of app.js: it only reads
// the data-cnnlens-* attributes that app.js sets on <html>. Once a visit is interactive and
// the release is cached, it has Python's memory snapshot kept for later visits (snapshot.js)
// and the code cache of its scripts made (code-cache.js).
import { warmCodeCache } from "./code-cache.js";
import { ask } from "./service-worker-messages.js";
import { keepSnapshot } from "./snapshot.js";

const SERVICE_WORKER = null;  // build/site.py switches this on in dist/

const root = document.documentElement;
const OFFLINE_HINT = "You seem to be offline, and cnnlens works offline only after one "
  + "complete visit while online.";

function whenAttribute(name) {
  return new Promise((resolve) => {
    const check = () => {
      if (root.hasAttribute(name)) {
        observer.disconnect();
        resolve();
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(root, { attributes: true, attributeFilter: [name] });
    check();
  });
}

function versionOf(worker) {
  return ask(worker, "version");
}

async function showReady() {
  const registration = await navigator.serviceWorker.ready;  // active = fully precached
  const indicator = document.querySelector("[data-testid=offline-ready]");
  if (!indicator || !registration.active) return;
  const version = await versionOf(registration.active);
  indicator.dataset.version = version;
  indicator.title = `Every file of this release (${version}) is stored in your browser.`;
  indicator.hidden = false;
}

async function offline() {
  if (!navigator.onLine) return true;
  try {  // navigator.onLine is only a hint: ask the server for the page itself
    await fetch(location.href, { method: "HEAD", cache: "no-store" });
    return false;
  } catch {
    return true;
  }
}

// A failed boot (app.js says why) or app.js itself never running: add the offline hint.
let explained = false;
async function explainFailure() {
  const label = document.getElementById("boot-label");
  if (explained || !label || navigator.serviceWorker?.controller || !(await offline())) return;
  explained = true;
  if (!root.dataset.cnnlensStage) {
    label.textContent = "cnnlens could not start: its files could not be downloaded.";
    document.getElementById("boot")?.classList.add("failed");
    root.dataset.cnnlensFailed = "true";
  }
  label.textContent = `${label.textContent.trim()} ${OFFLINE_HINT}`;
}

whenAttribute("data-cnnlens-failed").then(explainFailure);
// Module scripts run before "load"; no stage by then means app.js could not be loaded.
window.addEventListener("load", () => {
  if (!root.dataset.cnnlensStage && !root.dataset.cnnlensFailed) explainFailure();
});

// The check can fail for a moment (a network that has just come back); try a few times.
async function checkForRelease(registration, tries = 4) {
  for (let i = 0; i < tries; i += 1) {
    try {
      await registration.update();
      root.dataset.cnnlensReleaseCheck = "done";
      return;
    } catch (error) {
      root.dataset.cnnlensReleaseCheck = `failed: ${error.message || error}`;
      await new Promise((resolve) => { setTimeout(resolve, 1000 * (i + 1)); });
    }
  }
}

// How long an installed release may wait before the page is reloaded to let it take over.
const WAITING_MS = 3000;

// A new release is installed, and its worker (skipWaiting) takes over as soon as the old one
// has no request of this page in flight; some visits keep one in flight for good (seen in
// tests/e2e/test_site.py's new release after a failed snapshot restore), and the page stayed
// on the old release. Reloading ends the page's requests: the new release activates and
// answers the reload (controllerchange would reload the page the same way). Once per release.
function reloadIfStillWaiting(registration) {
  const later = (worker) => setTimeout(async () => {
    if (registration.waiting !== worker) return;
    const key = `cnnlens-reloaded-for-${await versionOf(worker)}`;
    if (sessionStorage.getItem(key)) return;
    sessionStorage.setItem(key, "yes");
    location.reload();
  }, WAITING_MS);
  const follow = (worker) => {
    if (!worker) return;
    if (worker.state === "installed") later(worker);
    else worker.addEventListener("statechange", () => { if (worker.state === "installed") later(worker); });
  };
  follow(registration.waiting || registration.installing);  // the browser's own check came first
  registration.addEventListener("updatefound", () => follow(registration.installing));
}

if (SERVICE_WORKER && "serviceWorker" in navigator) {
  const hadController = Boolean(navigator.serviceWorker.controller);
  // A new release took over this page: reload so that the page runs one release only.
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (hadController) location.reload();
  });
  // Registering after the first overview keeps precaching from competing with the boot,
  // and lets it revalidate what the boot has just put into the HTTP cache.
  whenAttribute("data-cnnlens-ready").then(async () => {
    const registration = await navigator.serviceWorker.register(SERVICE_WORKER);
    if (hadController) reloadIfStillWaiting(registration);
    // register() does not look for a new release once registered, and the browser's own
    // check after a navigation may come late or not at all: ask on every visit (offline,
    // this fails quietly and the cached release goes on).
    checkForRelease(registration);
    // Back online after an offline start: look again.
    window.addEventListener("online", () => checkForRelease(registration));
    await showReady();
    await whenAttribute("data-cnnlens-booted");
    const active = (await navigator.serviceWorker.ready).active;
    const snapshot = await keepSnapshot(active).catch((error) => `failed: ${error.message || error}`);
    root.dataset.cnnlensSnapshot = snapshot;
    // The visit that stored the snapshot is the release's first: its scripts' code cache
    // is made then too, after the snapshot's worker (both compete with the page for the CPU).
    root.dataset.cnnlensCodeCache = snapshot !== "stored" ? "not needed"
      : await warmCodeCache(active).then((n) => `${n} scripts`,
        (error) => `failed: ${error.message || error}`);
  }).catch((error) => console.warn("cnnlens: offline support unavailable:", error));
}
