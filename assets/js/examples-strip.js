// The examples strip: the model's example images as one group of buttons with one tab stop
// (a roving tabindex); the example on screen is pressed.
const $ = (id) => document.getElementById(id);
let shownFolder = "";  // where the strip's images are

// The folder of the examples on screen: a model without examples of its own keeps them.
export function examplesFolder() {
  return shownFolder;
}

export function setExamples(examples, folder) {
  shownFolder = folder;
  const buttons = examples.map((example) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "example";
    button.dataset.file = example.file;
    button.setAttribute("aria-label", `Example: ${example.label}`);
    button.tabIndex = -1;  // one tab stop for all of them (roving tabindex, see wireExamples)
    button.title = example.label;
    const img = document.createElement("img");
    img.src = `${folder}${example.file}`;
    img.alt = "";
    img.width = 32;
    img.height = 32;
    button.append(img);
    return button;
  });
  $("examples").replaceChildren(...buttons);
  if (buttons.length) buttons[0].tabIndex = 0;
}

export function hasExample(file) {
  return [...$("examples").children].some((b) => b.dataset.file === file);
}

// The chosen example is pressed and is the group's one tab stop.
export function markSelected(file) {
  const buttons = [...$("examples").children];
  const chosen = buttons.find((b) => b.dataset.file === file);
  for (const button of buttons) {
    button.setAttribute("aria-pressed", String(button === chosen));
    if (chosen) button.tabIndex = button === chosen ? 0 : -1;
  }
}

// Arrow keys, Home and End move between the examples; Enter, Space or a click picks one
// (`pick(file)`).
export function wireExamples(pick) {
  $("examples").addEventListener("keydown", (event) => {
    const buttons = [...$("examples").children];
    const index = buttons.indexOf(event.target);
    if (index < 0) return;
    const moves = { ArrowRight: index + 1, ArrowDown: index + 1, ArrowLeft: index - 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = buttons[(moves[event.key] + buttons.length) % buttons.length];
    buttons.forEach((b) => { b.tabIndex = b === next ? 0 : -1; });
    next.focus();
  });
  $("examples").addEventListener("click", (event) => {
    const button = event.target.closest("button.example");
    if (button) pick(button.dataset.file);
  });
}
