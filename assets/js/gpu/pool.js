// MaxPool and AveragePool (2-D: pads / auto_pad, strides, dilations, ceil_mode,
// count_include_pad) as window ops on a patch in workgroup memory, and the global pools as
// one workgroup-memory reduction per channel, as py/cnnlens/ops/pool.py computes them:
// padding never wins a max, a window that misses the input gives the lowest finite value
// (max) or 0 (average), and the ceil-mode overhang is never counted.
import { size, windowPlan } from "./geometry.js";
import { chooseWindowTile, windowGroups, windowKernel } from "./window.js";
import { declare, flatGroups, f32 } from "./wgsl.js";

const LOWEST = f32(-3.4028234663852886e38);

function geometry(node) {
  const xs = node.shapes[node.inputs[0]];
  const ys = node.shapes[node.outputs[0]];
  const kernel = node.attrs.kernel_shape;
  if (!xs || !ys || xs.length !== 4 || ys.length !== 4 || !kernel || kernel.length !== 2) return null;
  if (ys[0] !== xs[0] || ys[1] !== xs[1] || node.attrs.storage_order) return null;
  const plan = windowPlan(xs.slice(2), kernel, ys.slice(2), node.attrs);
  return plan && { plan, spatial: xs.slice(2), planes: xs[0] * xs[1] };
}

export function supportsPool(node) {
  return node.outputs.length === 1 && geometry(node) !== null && chooseWindowTile(geometry(node).plan) !== null;
}

export function poolPrograms(node) {
  const { plan, spatial, planes } = geometry(node);
  const tile = chooseWindowTile(plan);
  const inside = (lowY, highY, lowX, highX) =>
    `iy >= ${lowY} && iy < ${highY} && ix >= ${lowX} && ix < ${highX}`;
  const [h, w] = spatial;
  let body;
  if (node.op === "MaxPool") {
    body = {
      setup: `var s = ${LOWEST}; var any = false;`,
      tap: `if (${inside(0, h, 0, w)}) { if (!any || v > s) { s = v; } any = true; }`,
      result: "s",
    };
  } else {
    const all = Boolean(node.attrs.count_include_pad);
    const counted = all
      ? inside(-plan.begin[0], h + plan.end[0], -plan.begin[1], w + plan.end[1])
      : inside(0, h, 0, w);
    body = {
      setup: "var s = 0.0; var count = 0.0;",
      tap: `s += v; if (${counted}) { count += 1.0; }`,
      result: "s / max(count, 1.0)",
    };
  }
  const code = windowKernel({ inputs: ["x"], spatial, plan, tile, source: "z", ...body });
  return [{ code, bind: [node.inputs[0]], groups: windowGroups(plan, tile, planes) }];
}

export function supportsGlobalPool(node) {
  const xs = node.shapes[node.inputs[0]];
  return node.outputs.length === 1 && Boolean(xs) && xs.length >= 3;
}

// One workgroup of 256 per channel: a strided pass, then a tree in workgroup memory.
export function globalPoolPrograms(node) {
  const xs = node.shapes[node.inputs[0]];
  const planes = xs[0] * xs[1];
  const plane = size(xs.slice(2));
  const max = node.op === "GlobalMaxPool";
  const join = max ? "max(a, b)" : "a + b";
  const groups = flatGroups(planes, 1);
  const code = `${declare(["x"])}
var<workgroup> part: array<f32, 256>;
fn join(a: f32, b: f32) -> f32 { return ${join}; }
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let z = wid.y * ${groups[0]}u + wid.x;
  if (z >= ${planes}u) { return; }
  var s = ${max ? LOWEST : "0.0"};
  for (var i = lid.x; i < ${plane}u; i += 256u) { s = join(s, x[z * ${plane}u + i]); }
  part[lid.x] = s;
  workgroupBarrier();
  for (var half = 128u; half > 0u; half >>= 1u) {
    if (lid.x < half) { part[lid.x] = join(part[lid.x], part[lid.x + half]); }
    workgroupBarrier();
  }
  if (lid.x == 0u) { y[z] = ${max ? "part[0]" : `part[0] / ${f32(plane)}`}; }
}`;
  return [{ code, bind: [node.inputs[0]], groups }];
}
