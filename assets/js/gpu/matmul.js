// Gemm (alpha, beta, transA, transB, C broadcast to the product) and MatMul with a 2-D
// right operand (batch axes of the left one folded into its rows), as
// py/cnnlens/ops/linear.py computes them, on the tiled product of tiled-gemm.js.
import { size } from "./geometry.js";
import { chooseTile, gemmGroups, tiledGemm } from "./tiled-gemm.js";
import { epilogue, f32, validFuse } from "./wgsl.js";

function gemmGeometry(node) {
  const [a, b, c] = node.inputs;
  const as = node.shapes[a];
  const bs = node.shapes[b];
  if (!as || !bs || as.length !== 2 || bs.length !== 2) return null;
  const transA = Boolean(node.attrs.transA);
  const transB = Boolean(node.attrs.transB);
  const [rows, depth] = transA ? [as[1], as[0]] : as;
  const [depthB, cols] = transB ? [bs[1], bs[0]] : bs;
  if (depth !== depthB) return null;
  const alpha = node.attrs.alpha ?? 1;
  const beta = node.attrs.beta ?? 1;
  let bias = null;
  if (c && beta !== 0) {
    const cs = node.shapes[c];
    if (!cs || cs.length > 2) return null;
    const full = [...new Array(2 - cs.length).fill(1), ...cs];
    if ((full[0] !== 1 && full[0] !== rows) || (full[1] !== 1 && full[1] !== cols)) return null;
    bias = { rowStride: full[0] === 1 ? 0 : full[1], colStride: full[1] === 1 ? 0 : 1 };
  }
  return { rows, cols, depth, transA, transB, alpha, beta, bias };
}

function matmulGeometry(node) {
  const as = node.shapes[node.inputs[0]];
  const bs = node.shapes[node.inputs[1]];
  if (!as || !bs || bs.length !== 2 || as.length < 1 || as[as.length - 1] !== bs[0]) return null;
  const depth = bs[0];
  return { rows: size(as) / depth, cols: bs[1], depth, transA: false, transB: false,
           alpha: 1, beta: 1, bias: null };
}

const geometry = (node) => (node.op === "Gemm" ? gemmGeometry(node) : matmulGeometry(node));

export function supportsMatmul(node) {
  return node.inputs.length >= 2 && node.outputs.length === 1 && validFuse(node.attrs.fuse)
    && geometry(node) !== null;
}

export function matmulPrograms(node) {
  const g = geometry(node);
  const tile = chooseTile(g.rows, g.cols);
  const names = g.bias ? ["a", "bm", "cm"] : ["a", "bm"];
  let value = g.alpha === 1 ? "s" : `s * ${f32(g.alpha)}`;
  if (g.bias) {
    const c = `cm[r * ${g.bias.rowStride}u + col * ${g.bias.colStride}u]`;
    value = `${value} + ${g.beta === 1 ? c : `${c} * ${f32(g.beta)}`}`;
  }
  const code = tiledGemm({
    inputs: names, rows: g.rows, cols: g.cols, depth: g.depth, tile,
    aAlongK: !g.transA, bAlongK: g.transB,
    loadA: `fn loadA(z: u32, r: u32, k: u32) -> f32 {
  return a[${g.transA ? "k * ROWS + r" : "r * DEPTH + k"}];
}`,
    loadB: `fn loadB(z: u32, k: u32, c: u32) -> f32 {
  return bm[${g.transB ? "c * DEPTH + k" : "k * COLS + c"}];
}`,
    store: `fn store(z: u32, r: u32, col: u32, s: f32) {
  y[r * COLS + col] = ${epilogue(node.attrs.fuse, `(${value})`)};
}`,
  });
  return [{ code, bind: node.inputs.slice(0, names.length), groups: gemmGroups(g.rows, g.cols, 1, tile) }];
}
