// What every kernel's WGSL shares: how tensors are bound, flat dispatches past the
// 65,535-workgroup limit of one dimension, exact float literals, the fused activations.

// Binding i is the i-th input name (read-only), then the output `y` (read-write); the kernel
// code refers to them by these names.
export function declare(inputs) {
  const lines = inputs.map(
    (name, i) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`);
  lines.push(`@group(0) @binding(${inputs.length}) var<storage, read_write> y: array<f32>;`);
  return lines.join("\n");
}

const MAX_GROUPS = 65535;

// Workgroups for `count` items, `per` per workgroup, as [x, y, 1] with x * y >= needed;
// the kernel finds its item as flatIndex(…).
export function flatGroups(count, per) {
  const needed = Math.max(1, Math.ceil(count / per));
  const x = Math.min(needed, MAX_GROUPS);
  return [x, Math.ceil(needed / x), 1];
}

export function flatIndex(per, groupsX) {
  return `(wid.y * ${groupsX}u + wid.x) * ${per}u + lid.x`;
}

// An exact WGSL literal for a finite float32 (its bits), so a constant baked into a kernel
// is the same number NumPy uses.
export function f32(value) {
  if (!Number.isFinite(value)) throw new Error(`no finite float32 literal for ${value}`);
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
  return `bitcast<f32>(0x${bits.toString(16)}u)`;
}

// np.minimum(np.maximum(v, low), high) in WGSL, a bound left open when null or absent.
export function clamp(v, low, high) {
  let out = v;
  if (low !== undefined && low !== null) out = `max(${out}, ${f32(low)})`;
  if (high !== undefined && high !== null) out = `min(${out}, ${f32(high)})`;
  return out;
}

// A node's fused activation (`attrs.fuse`: {op: "Relu"} or {op: "Clip", min, max}) applied
// to the WGSL value `v`; `v` itself without one.
export function epilogue(fuse, v = "v") {
  if (!fuse) return v;
  if (fuse.op === "Relu") return `max(${v}, 0.0)`;
  return clamp(v, fuse.min, fuse.max);
}

export function validFuse(fuse) {
  if (fuse === undefined || fuse === null) return true;
  if (fuse.op === "Relu") return true;
  const bound = (b) => b === undefined || b === null || Number.isFinite(b);
  return fuse.op === "Clip" && bound(fuse.min) && bound(fuse.max);
}
