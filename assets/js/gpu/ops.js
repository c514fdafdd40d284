// Which ONNX nodes run on the GPU and the kernels (programs) each one dispatches. A node the
// table does not take stays on NumPy (the engine decides, per op, from supports()).
import { size } from "./geometry.js";
import { convPrograms, supportsConv } from "./conv.js";
import { globalPoolPrograms, poolPrograms, supportsGlobalPool, supportsPool } from "./pool.js";
import { matmulPrograms, supportsMatmul } from "./matmul.js";
import {
  BINARY_OPS, batchNormPrograms, binaryPrograms, concatPrograms, supportsBatchNorm,
  supportsBinary, supportsConcat, unaryPrograms,
} from "./elementwise.js";

// Ops that only re-read their input's memory with another shape: the output is the input's
// buffer, nothing runs.
export const VIEWS = new Set(["Flatten", "Reshape", "Identity", "Dropout", "Squeeze", "Unsqueeze"]);

function supportsView(node) {
  const x = node.shapes[node.inputs[0]];
  const out = node.shapes[node.outputs[0]];
  return node.outputs.filter(Boolean).length === 1 && Boolean(x) && Boolean(out) && size(x) === size(out);
}

function supportsUnary(node) {
  const x = node.shapes[node.inputs[0]];
  const out = node.shapes[node.outputs[0]];
  return node.outputs.length === 1 && Boolean(x) && String(x) === String(out);
}

const KERNELS = {
  Conv: [supportsConv, convPrograms],
  MaxPool: [supportsPool, poolPrograms],
  AveragePool: [supportsPool, poolPrograms],
  GlobalAveragePool: [supportsGlobalPool, globalPoolPrograms],
  GlobalMaxPool: [supportsGlobalPool, globalPoolPrograms],
  Gemm: [supportsMatmul, matmulPrograms],
  MatMul: [supportsMatmul, matmulPrograms],
  Relu: [supportsUnary, unaryPrograms],
  Sigmoid: [supportsUnary, unaryPrograms],
  Clip: [supportsUnary, unaryPrograms],
  BatchNormalization: [supportsBatchNorm, batchNormPrograms],
  Concat: [supportsConcat, concatPrograms],
  ...Object.fromEntries(BINARY_OPS.map((op) => [op, [supportsBinary, binaryPrograms]])),
};

// True when the node is one the kernels compute exactly as the engine does, with every
// shape given; false for anything else (another rank, an attribute the engine refuses).
export function supportsNode(node) {
  if (!node || typeof node.op !== "string" || !Array.isArray(node.inputs)
      || !Array.isArray(node.outputs) || !node.shapes) return false;
  node = { attrs: {}, ...node };
  if (VIEWS.has(node.op)) return supportsView(node);
  const entry = KERNELS[node.op];
  try {
    return Boolean(entry) && entry[0](node);
  } catch {
    return false;
  }
}

// The node's dispatches: [{code, bind: [tensor names, in binding order], groups}], the
// output always its first output. `bounds` are Clip's resolved {min, max}.
export const programs = (node, bounds) => KERNELS[node.op][1]({ attrs: {}, ...node }, bounds);
