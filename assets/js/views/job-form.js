// What the step-by-step methods' settings forms share (views/maximize-settings.js,
// views/invert-settings.js): the form that starts a run on submit and on any change, the
// labelled boxes, and the Start, Stop/Resume and Cancel buttons as a job's state sets them.
import { el } from "./common.js";

// The form; onChange(): any setting changed (it starts again with it, so its effect
// shows at once); onStart(): Start pressed.
export function jobForm(attrs, { onStart, onChange = onStart }) {
  const form = el("form", attrs);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onStart();
  });
  form.addEventListener("change", () => onChange());
  return form;
}

export function field(label, input, suffix) {
  const box = el("div", { class: "method-control" });
  box.append(el("label", { for: input.id }, label), input);
  if (suffix) box.append(el("span", { class: "unit" }, suffix));
  return box;
}

// A number box; value: its starting value, where the form does not write one.
export function numberInput(id, { min, max, step }, value) {
  const start = value === undefined ? {} : { value: String(value) };
  return el("input", { id, type: "number", ...start, min: String(min), max: String(max), step: String(step), inputmode: step < 1 ? "decimal" : "numeric" });
}

export class JobButtons {
  // name: the method, for the buttons' ids (`${name}-start`); onPauseResume(): Stop or
  // Resume pressed; onCancel(): Cancel pressed (Start is the form's submit).
  constructor(name, { onPauseResume, onCancel }) {
    this.startButton = el("button", { type: "submit", id: `${name}-start`, class: "primary" }, "Start");
    this.pauseButton = el("button", { type: "button", id: `${name}-pause` }, "Stop");
    this.cancelButton = el("button", { type: "button", id: `${name}-cancel` }, "Cancel");
    this.pauseButton.addEventListener("click", () => onPauseResume());
    this.cancelButton.addEventListener("click", () => onCancel());
    this.root = el("div", { class: "controls-row maximize-buttons" });
    this.root.append(this.startButton, this.pauseButton, this.cancelButton);
  }

  // The buttons for a job's state (JobRunner's).
  showState(state) {
    const active = state === "running" || state === "starting";
    this.pauseButton.textContent = state === "paused" ? "Resume" : "Stop";
    this.pauseButton.disabled = !(state === "running" || state === "paused");
    this.pauseButton.setAttribute("aria-pressed", String(state === "paused"));
    this.cancelButton.disabled = !(active || state === "paused");
    this.startButton.textContent = active ? "Restart" : "Start";
  }
}

// The run's own boxes: step size, seed and steps (inputs.step_size, .seed, .steps).
export function runRow(inputs) {
  const run = el("div", { class: "maximize-run" });
  run.append(field("Step size", inputs.step_size), field("Seed", inputs.seed), field("Steps", inputs.steps));
  return run;
}

// Every number box shows its setting (inputs and values keyed by the setting's name).
export function writeNumbers(inputs, values) {
  for (const [name, input] of Object.entries(inputs)) input.value = String(values[name]);
}

// Every number box's setting into `values`; an empty box reads NaN, which Python refuses
// with a message.
export function readNumbers(inputs, values) {
  for (const [name, input] of Object.entries(inputs)) values[name] = input.value === "" ? NaN : Number(input.value);
}
