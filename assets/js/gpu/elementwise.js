// The element-wise ops between the big layers, so that a ResNet block stays on the GPU:
// Relu, Sigmoid, Clip, BatchNormalization (inference), Add/Sub/Mul/Div with NumPy
// broadcasting, and Concat, each as the engine's py/cnnlens/ops modules compute it.
import { size, strides } from "./geometry.js";
import { clamp, declare, epilogue, f32, flatGroups, flatIndex, validFuse } from "./wgsl.js";

const PER = 256;

function flat(inputs, count, body) {
  const groups = flatGroups(count, PER);
  const code = `${declare(inputs)}
@compute @workgroup_size(${PER})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = ${flatIndex(PER, groups[0])};
  if (i >= ${count}u) { return; }
  ${body}
}`;
  return { code, groups };
}

const count = (node) => size(node.shapes[node.outputs[0]]);

export const UNARY = {
  Relu: () => "y[i] = max(x[i], 0.0);",
  // py/cnnlens/ops/activation.py's sigmoid: only exp(-|v|) is computed, so nothing overflows.
  Sigmoid: () => "let v = x[i]; let e = exp(-abs(v)); y[i] = select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);",
  Clip: (node, bounds) => `y[i] = ${clamp("x[i]", bounds.min, bounds.max)};`,
};

export function unaryPrograms(node, bounds) {
  const { code, groups } = flat(["x"], count(node), UNARY[node.op](node, bounds));
  return [{ code, bind: [node.inputs[0]], groups }];
}

export function supportsBatchNorm(node) {
  const xs = node.shapes[node.inputs[0]];
  return node.inputs.length === 5 && node.outputs.length === 1 && Boolean(xs) && xs.length >= 2
    && !node.attrs.training_mode && (node.attrs.spatial ?? 1) === 1 && validFuse(node.attrs.fuse)
    && node.inputs.slice(1).every((name) => String(node.shapes[name]) === String([xs[1]]));
}

// y = (x - mean) / sqrt(var + epsilon) * scale + bias, in that order (normalization.py).
export function batchNormPrograms(node) {
  const xs = node.shapes[node.inputs[0]];
  const inner = size(xs.slice(2));
  const eps = f32(node.attrs.epsilon ?? 1e-5);
  const value = `(x[i] - mean[c]) / sqrt(vr[c] + ${eps}) * scale[c] + bias[c]`;
  const { code, groups } = flat(["x", "scale", "bias", "mean", "vr"], count(node),
    `let c = (i / ${inner}u) % ${xs[1]}u; y[i] = ${epilogue(node.attrs.fuse, `(${value})`)};`);
  return [{ code, bind: node.inputs, groups }];
}

const BINARY = { Add: "+", Sub: "-", Mul: "*", Div: "/" };
export const BINARY_OPS = Object.keys(BINARY);

// Strides of `shape` inside the broadcast `out` (0 along the axes it is stretched on).
function broadcastStrides(shape, out) {
  const own = strides(shape);
  const lead = out.length - shape.length;
  return out.map((d, i) => (i < lead || shape[i - lead] === 1 ? 0 : own[i - lead]));
}

export function supportsBinary(node) {
  const [a, b] = node.inputs.map((name) => node.shapes[name]);
  const out = node.shapes[node.outputs[0]];
  if (!a || !b || !out || node.attrs.broadcast || out.length > 8 || !validFuse(node.attrs.fuse)) return false;
  const fits = (s) => s.length <= out.length
    && s.every((d, i) => d === 1 || d === out[out.length - s.length + i]);
  return node.inputs.length === 2 && node.outputs.length === 1 && fits(a) && fits(b);
}

export function binaryPrograms(node) {
  const out = node.shapes[node.outputs[0]];
  const [sa, sb] = node.inputs.map((name) => broadcastStrides(node.shapes[name], out));
  const lines = ["var rest = i; var ia = 0u; var ib = 0u;"];
  for (let d = out.length - 1; d >= 0; d--) {
    lines.push(`{ let q = rest % ${out[d]}u; rest = rest / ${out[d]}u; ia += q * ${sa[d]}u; ib += q * ${sb[d]}u; }`);
  }
  lines.push(`y[i] = ${epilogue(node.attrs.fuse, `(a[ia] ${BINARY[node.op]} b[ib])`)};`);
  const { code, groups } = flat(["a", "b"], count(node), lines.join("\n  "));
  return [{ code, bind: node.inputs, groups }];
}

function concatAxis(node) {
  const out = node.shapes[node.outputs[0]];
  const axis = node.attrs.axis;
  return axis < 0 ? axis + out.length : axis;
}

export function supportsConcat(node) {
  const out = node.shapes[node.outputs[0]];
  if (!out || node.attrs.axis === undefined || node.outputs.length !== 1) return false;
  const axis = concatAxis(node);
  return axis >= 0 && axis < out.length && node.inputs.every((name) => {
    const s = node.shapes[name];
    return s && s.length === out.length && s.every((d, i) => i === axis || d === out[i]);
  });
}

// One copy per input into its slice of the output.
export function concatPrograms(node) {
  const out = node.shapes[node.outputs[0]];
  const axis = concatAxis(node);
  const inner = size(out.slice(axis + 1));
  let offset = 0;
  return node.inputs.map((name) => {
    const s = node.shapes[name];
    const block = s[axis] * inner;
    const { code, groups } = flat(["x"], size(s),
      `y[(i / ${block}u) * ${out[axis] * inner}u + ${offset * inner}u + i % ${block}u] = x[i];`);
    offset += s[axis];
    return { code, bind: [name], groups };
  });
}
