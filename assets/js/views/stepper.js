// The stepping shared by the window views (convolution, pooling): a window moved over every
// output position at the layer's stride, each window built up beat by beat (a product, a
// value compared or added, …); Play/Pause, Next, and a speed control from one beat at a time
// to one window every few frames; the window placed by hovering or dragging on the output
// map, or with the arrow keys. This module only knows where the animation is (step, beat);
// the view draws it, looking its numbers up in what Python packed.
import { cellAt, el } from "./common.js";

// The speed control's stops: how much one step does ("beat": one beat of a window), and how
// often the animation steps.
const SPEEDS = [
  { unit: "beat", ms: 1200, name: (beat) => `step by step: one ${beat} at a time` },
  { unit: "beat", ms: 450, name: (beat) => `one ${beat} at a time` },
  { unit: "window", ms: 800, name: () => "one window at a time" },
  { unit: "window", ms: 250, name: () => "quick" },
  { unit: "window", ms: 60, name: () => "fast" },
];
const START_SPEED = 2;
// Pace of the build-up of the first window played when the view opens.
const INTRO_MS = 450;
const MOVES = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };

const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

// `formula`: the element whose data-* attributes say where the animation is (step, position,
// beat, playing, interval, unit, speed); `out`: [rows, columns] of window positions; `beats`:
// beats per window; `beat`: what one beat is called ("product", "value"); `id`: unique per
// view (the slider's id); `draw(i, j, beat)`: draws window (i, j) with `beat` beats done
// (beat === beats: the whole window); `stop(f)`: registers the view's cleanup.
export function stepper({ formula, out: [oh, ow], beats, beat: beatName, id, draw, stop }) {
  let step = 0;
  let beat = beats;
  let speed = START_SPEED;
  let playing = "";  // "", "play" or "intro"
  let timer = null;

  const play = el("button", { type: "button", class: "play" }, "Play");
  const next = el("button", { type: "button", class: "next" });
  const slider = el("input", { type: "range", min: "0", max: String(SPEEDS.length - 1), step: "1", value: String(START_SPEED), id: `speed-${id}`, class: "speed" });
  const speedName = el("output", { for: slider.id, class: "speed-name" });
  const speedBox = el("div", { class: "speed-box" });
  speedBox.append(el("label", { for: slider.id }, "Speed"), slider, speedName);
  const controls = el("div", { class: "controls-row" });
  const said = el("p", { class: "visually-hidden", "aria-live": "polite" });
  controls.append(play, next, speedBox, said);
  formula.dataset.steps = String(oh * ow);
  formula.dataset.beats = String(beats);
  const unitOf = (s) => (s.unit === "beat" ? beatName : "window");

  function redraw() {
    const [i, j] = [Math.floor(step / ow), step % ow];
    draw(i, j, beat);
    formula.dataset.step = String(step);
    formula.dataset.position = `${i},${j}`;
    formula.dataset.beat = String(beat);
  }

  function showSpeed() {
    const s = SPEEDS[speed];
    speedName.textContent = s.name(beatName);
    slider.setAttribute("aria-valuetext", speedName.textContent);
    next.textContent = `Next ${unitOf(s)}`;
    formula.dataset.interval = String(s.ms);
    formula.dataset.unit = unitOf(s);
    formula.dataset.speed = String(speed);
  }

  // One step: the next beat of this window, or the next window (from its first beat when
  // stepping by beats).
  function advance(unit) {
    if (unit === "window" || beat >= beats) {
      step = (step + 1) % (oh * ow);
      beat = unit === "window" ? beats : 1;
    } else {
      beat += 1;
    }
    redraw();
  }

  function halt() {
    clearTimeout(timer);
    timer = null;
    playing = "";
    play.textContent = "Play";
    formula.dataset.playing = "false";
  }

  function schedule() {
    clearTimeout(timer);
    const ms = playing === "intro" ? INTRO_MS : SPEEDS[speed].ms;
    timer = setTimeout(() => {
      advance(playing === "intro" ? "beat" : SPEEDS[speed].unit);
      if (playing === "intro" && beat >= beats) halt();
      else schedule();
    }, ms);
  }

  function start(mode) {
    playing = mode;
    play.textContent = "Pause";
    formula.dataset.playing = mode;
    schedule();
  }

  // Shows window (i, j) whole; placing the window pauses the animation.
  function place(i, j) {
    halt();
    step = i * ow + j;
    beat = beats;
    redraw();
  }

  // Hover or drag on `box` (a map of the output) places the window; so do the arrow keys,
  // Home and End while it has the focus, and `say(i, j)` is read out. A press starts a drag
  // that follows the pointer (captured, so it may leave the map); touch does not scroll the
  // page from the map (touch-action in detail.css).
  function placer(box, say) {
    const cellOf = (event) => cellAt(event, box.querySelector("canvas"));
    let dragging = false;
    box.classList.add("placer");
    box.setAttribute("tabindex", "0");
    box.setAttribute("role", "group");
    box.addEventListener("pointerdown", (event) => {
      dragging = true;
      try { box.setPointerCapture(event.pointerId); } catch { /* not an active pointer */ }
      place(...cellOf(event));
    });
    box.addEventListener("pointermove", (event) => {
      if (event.pointerType === "mouse" || dragging) place(...cellOf(event));
    });
    for (const name of ["pointerup", "pointercancel"]) box.addEventListener(name, () => { dragging = false; });
    box.addEventListener("keydown", (event) => {
      let [i, j] = [Math.floor(step / ow), step % ow];
      if (MOVES[event.key]) {
        i = Math.min(Math.max(i + MOVES[event.key][0], 0), oh - 1);
        j = Math.min(Math.max(j + MOVES[event.key][1], 0), ow - 1);
      } else if (event.key === "Home") [i, j] = [0, 0];
      else if (event.key === "End") [i, j] = [oh - 1, ow - 1];
      else return;
      event.preventDefault();
      place(i, j);
      said.textContent = say(i, j);
    });
  }

  // Draws the first window and, unless motion is reduced, builds it up beat by beat, once.
  function begin() {
    showSpeed();
    formula.dataset.playing = "false";
    if (reducedMotion()) {
      redraw();
    } else {
      beat = 1;
      redraw();
      start("intro");
    }
  }

  play.addEventListener("click", () => (playing ? halt() : start("play")));
  next.addEventListener("click", () => { halt(); advance(SPEEDS[speed].unit); });
  slider.addEventListener("input", () => {
    speed = Number(slider.value);
    showSpeed();
    if (playing === "play") schedule();  // the new pace applies from now
  });
  stop(() => clearTimeout(timer));
  return { controls, place, placer, redraw, begin };
}
