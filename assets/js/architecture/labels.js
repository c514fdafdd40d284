// The words and numbers of the architecture view: a box's lines, what a screen reader
// says for it, and the totals line.

// 1234 → "1.2k", 4089184256 → "4.09G": the magnitudes matter here, not the last digit.
export function compact(value) {
  const units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [size, unit] of units) {
    if (value >= size) return `${(value / size).toPrecision(3).replace(/\.?0+$/, "")}${unit}`;
  }
  return String(value);
}

function bytes(value) {
  const units = [[2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]];
  for (const [size, unit] of units) {
    if (value >= size) return `${(value / size).toPrecision(3).replace(/\.?0+$/, "")} ${unit}`;
  }
  return `${value} B`;
}

// The shape without its batch axis, as the overview writes it: 64×56×56.
export function shapeText(shape) {
  return shape.length > 1 ? shape.slice(1).join("×") : shape.join("×");
}

// What a screen reader says for a box (and its tooltip): everything, nothing shortened.
export function nodeLabel(node) {
  const what = [node.op, node.detail].filter(Boolean).join(" ");
  const numbers = node.id < 0 ? "" : `, ${node.params.toLocaleString("en")} parameters, ${node.macs.toLocaleString("en")} multiply-adds`;
  return `${node.name}: ${what}, output ${shapeText(node.shape)}${numbers}`;
}

function truncate(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

// Names lose their middle: "inception3a.branch2.1.relu" → "inception3a…ch2.1.relu", the
// block and the layer both still there.
function shorten(text, length) {
  if (text.length <= length) return text;
  const head = Math.ceil((length - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (length - 1 - head))}`;
}

// Op names as short as a box's line needs; the label read aloud keeps the full name.
const SHORT_OPS = { BatchNormalization: "BatchNorm", GlobalAveragePool: "GlobalAvgPool", LocalResponseNormalization: "LRN" };

// A box's lines, as many as it has: name; op, hyperparameters and shape; the numbers.
export function boxLines(node) {
  const lines = [
    shorten(node.name, 22),
    truncate(`${SHORT_OPS[node.op] || node.op}${node.detail ? ` ${node.detail}` : ""} · ${shapeText(node.shape)}`, 28),
  ];
  if (node.id >= 0) lines.push(`${compact(node.params)} params · ${compact(node.macs)} MACs`);
  return lines;
}

export function totalsText(view) {
  const t = view.totals;
  return `${view.model || "Model"} at ${shapeText(view.input_shape)}: ${t.layers} layers (depth ${t.depth}), `
    + `${t.params.toLocaleString("en")} parameters, ${compact(t.macs)} multiply-adds (MACs), `
    + `${bytes(t.activation_bytes)} of activations.`;
}
