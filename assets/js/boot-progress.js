// The boot's staged progress (#boot: bar, label, stage list) until the first overview is on
// screen, and the message that replaces it when the page cannot start.
import { startingDone, startingProgress } from "./starting.js";

const $ = (id) => document.getElementById(id);
const STAGES = ["runtime", "packages", "model", "forward", "draw"];

// How far the whole boot is (0 to 1) at stage `key`, `progress` into it.
export function bootFraction(key, progress = null) {
  return (STAGES.indexOf(key) + (progress ? progress.fraction : 0)) / STAGES.length;
}

// `progress` ({fraction, text}, runtime.js): how far into this stage, e.g. the runtime's
// download; repeated calls for the same stage update the bar and label but mark it once.
export function stage(key, label, progress = null) {
  const index = STAGES.indexOf(key);
  $("boot-progress").value = bootFraction(key, progress) * STAGES.length;
  if (label) $("boot-label").textContent = progress ? `${label}… ${progress.text}` : `${label}…`;
  startingProgress(bootFraction(key, progress));
  for (const item of $("boot-stages").children) {
    const i = STAGES.indexOf(item.dataset.stage);
    item.className = i < index ? "done" : i === index ? "active" : "";
  }
  if (document.documentElement.dataset.cnnlensStage === key) return;
  document.documentElement.dataset.cnnlensStage = key;
  performance.mark(`cnnlens:stage:${key}`);
}

export function fail(message) {
  startingDone();
  // A prerendered overview goes too: nothing on it could answer.
  $("boot").hidden = false;
  $("app").hidden = true;
  $("boot-label").textContent = `cnnlens could not start: ${message}`;
  $("boot").classList.add("failed");
  document.documentElement.dataset.cnnlensFailed = "true";
}
