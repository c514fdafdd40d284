// The article's numbers about the network (input size, channel counts, kernel size, output
// sizes, class count) for the model on screen. index.html holds the bundled model's values
// as static text in <span data-model-fact="…">, readable without JavaScript; after every
// overview drawn, app.js puts these in their place. Everything comes from the overview's
// view-model (py/cnnlens/views/overview.py): column shapes [C, H, W], ops and details.

const WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];

// A count as the article writes it: in words up to twelve, in digits after.
export function inWords(n) {
  return n < WORDS.length ? WORDS[n] : n.toLocaleString("en");
}

const size = (shape) => `${shape[1]} × ${shape[2]}`;
const POOLS = new Set(["MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"]);

// The kernel of a conv column's details ("3×3 · stride 1 · pad 1" → "3 × 3"), or null.
function kernelOf(column) {
  const match = /^(\d+)(?:×(\d+))?\b/.exec(column.details || "");
  return match ? `${match[1]} × ${match[2] || match[1]}` : null;
}

// The column a column reads from (its source), or the one before it.
function sourceOf(columns, index) {
  const name = columns[index].sources?.column;
  return columns.find((c) => c.name === name) || columns[index - 1];
}

// data-model-fact key → text, for one overview view-model.
export function modelFacts(view) {
  const columns = view.columns;
  const input = columns[0].shape;
  const conv = columns.find((c) => c.op === "Conv");
  const last = columns.at(-1).shape;
  const pools = columns.map((c, i) => [c, i]).filter(([c]) => POOLS.has(c.op))
    .map(([c, i]) => `${size(sourceOf(columns, i).shape)} becomes ${size(c.shape)}`);
  const classes = view.output.classes.length;
  const facts = {
    "model-name": view.model?.name || "",
    "input-shape": input.join(" × "),
    "input-channels": input[0] === 1 ? "one channel (grey)" : input[0] === 3 ? "three channels (red, green, blue)" : `${inWords(input[0])} channels`,
    "input-height": String(input[1]),
    "input-width": String(input[2]),
    "input-size": size(input),
    "input-colour": input[0] === 1 ? "made grey" : "kept in colour",
    "pool-steps": pools.length ? pools.join(", then ") : "(this model has no pooling layer)",
    "last-channels": inWords(last[0]),
    "last-size": size(last),
    "flat-count": (last[0] * last[1] * last[2]).toLocaleString("en"),
    "classes": inWords(classes),
  };
  if (conv) {
    facts["conv-shape"] = conv.shape.join(" × ");
    facts["conv-channels"] = inWords(conv.shape[0]);
    facts["kernel-size"] = kernelOf(conv) || "k × k";
  }
  return facts;
}

// Fills every <span data-model-fact> under `root` that the model has a value for.
export function fillFacts(root, view) {
  const facts = modelFacts(view);
  for (const span of root.querySelectorAll("[data-model-fact]")) {
    const text = facts[span.dataset.modelFact];
    if (text !== undefined) span.textContent = text;
  }
}
