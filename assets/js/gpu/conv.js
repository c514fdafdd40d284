// Conv (2-D, any pads / auto_pad, strides, dilations and group count, depthwise included),
// as py/cnnlens/ops/conv.py computes it: per group, output channels × positions = weights ×
// the input's windows, plus the bias, then the node's fused activation if it has one.
// Depthwise layers (one input channel per group, few outputs each) run as a window op on a
// patch in workgroup memory; every other layer as the tiled implicit-im2col product.
import { windowPlan } from "./geometry.js";
import { chooseTile, gemmGroups, tiledGemm } from "./tiled-gemm.js";
import { chooseWindowTile, windowGroups, windowKernel } from "./window.js";
import { epilogue, validFuse } from "./wgsl.js";

function geometry(node) {
  const [x, w, b] = node.inputs;
  const xs = node.shapes[x];
  const ws = node.shapes[w];
  const ys = node.shapes[node.outputs[0]];
  if (!xs || !ws || !ys || xs.length !== 4 || ws.length !== 4 || ys.length !== 4) return null;
  const group = node.attrs.group ?? 1;
  const [n, c, h, wd] = xs;
  const m = ws[0];
  if (group < 1 || c % group || m % group || ws[1] * group !== c || ys[1] !== m) return null;
  if (b && !(node.shapes[b] && node.shapes[b].length === 1 && node.shapes[b][0] === m)) return null;
  const kernel = ws.slice(2);
  if (node.attrs.kernel_shape && String(node.attrs.kernel_shape) !== String(kernel)) return null;
  const plan = windowPlan([h, wd], kernel, ys.slice(2), node.attrs);
  if (!plan) return null;
  return { n, c, h, w: wd, m, group, cg: c / group, mg: m / group, plan, bias: Boolean(b) };
}

export function supportsConv(node) {
  return node.inputs.length >= 2 && node.outputs.length === 1 && validFuse(node.attrs.fuse)
    && geometry(node) !== null;
}

export function convPrograms(node) {
  const g = geometry(node);
  const names = g.bias ? ["x", "w", "b"] : ["x", "w"];
  const bind = node.inputs.slice(0, names.length);
  const biased = g.bias ? "s + b[m]" : "s";
  if (g.cg === 1 && g.mg <= 4) {
    const tile = chooseWindowTile(g.plan);
    if (tile) {
      const code = windowKernel({
        inputs: names, spatial: [g.h, g.w], plan: g.plan, tile,
        source: `(z / ${g.m}u) * ${g.c}u + (z % ${g.m}u) / ${g.mg}u`,
        setup: `let m = z % ${g.m}u; var s = 0.0;`,
        tap: `s = fma(v, w[(m * KH + ky) * KW + kx], s);`,
        result: epilogue(node.attrs.fuse, `(${biased})`),
      });
      return [{ code, bind, groups: windowGroups(g.plan, tile, g.n * g.m) }];
    }
  }
  const [ho, wo] = g.plan.output;
  const [kh, kw] = g.plan.kernel;
  const positions = ho * wo;
  const depth = g.cg * kh * kw;
  const tile = chooseTile(g.mg, positions);
  const code = tiledGemm({
    inputs: names, rows: g.mg, cols: positions, depth, tile, aAlongK: true, bAlongK: false,
    loadA: `fn loadA(z: u32, r: u32, k: u32) -> f32 {
  return w[((z % ${g.group}u) * ${g.mg}u + r) * DEPTH + k];
}`,
    loadB: `fn loadB(z: u32, k: u32, p: u32) -> f32 {
  let c = (z % ${g.group}u) * ${g.cg}u + k / ${kh * kw}u;
  let t = k % ${kh * kw}u;
  let iy = i32((p / ${wo}u) * ${g.plan.stride[0]}u + (t / ${kw}u) * ${g.plan.dilation[0]}u) - ${g.plan.begin[0]};
  let ix = i32((p % ${wo}u) * ${g.plan.stride[1]}u + (t % ${kw}u) * ${g.plan.dilation[1]}u) - ${g.plan.begin[1]};
  if (iy < 0 || ix < 0 || iy >= ${g.h} || ix >= ${g.w}) { return 0.0; }
  return x[(((z / ${g.group}u) * ${g.c}u + c) * ${g.h}u + u32(iy)) * ${g.w}u + u32(ix)];
}`,
    store: `fn store(z: u32, r: u32, p: u32, s: f32) {
  let m = (z % ${g.group}u) * ${g.mg}u + r;
  y[((z / ${g.group}u) * ${g.m}u + m) * ${positions}u + p] = ${epilogue(node.attrs.fuse, `(${biased})`)};
}`,
  });
  return [{ code, bind, groups: gemmGroups(g.mg, positions, g.n * g.group, tile) }];
}
