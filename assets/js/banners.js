// The page's two banners over the overview: the error message (`#message`, role="alert":
// what failed, while the view stays) and the calm note of an overview whose picture is far
// from the model's training data (views/input_note.py).
const $ = (id) => document.getElementById(id);

export function showError(message) {
  $("message").textContent = message;
  $("message").hidden = false;
}

export function clearError() {
  $("message").hidden = true;
  $("message").textContent = "";
}

// An info box under the error banner, made on first use.
export function showNote(note) {
  let box = document.getElementById("input-note");
  if (!box && !note) return;
  if (!box) {
    box = document.createElement("p");
    box.id = "input-note";
    box.className = "input-note";
    box.dataset.testid = "input-note";
    box.setAttribute("role", "status");
    $("message").after(box);
  }
  box.textContent = note || "";
  box.hidden = !note;
}
