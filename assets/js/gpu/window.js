// Window ops that read one input plane per output plane (depthwise convolution, the local
// pools), tiled: a workgroup loads the input patch its TH × TW outputs read into workgroup
// memory once, then every thread reduces its own window from there.
import { declare } from "./wgsl.js";

const PATCH_FLOATS = 3072; // 12 KiB of the 16 KiB every WebGPU device offers
const TILES = [[16, 16], [8, 32], [8, 8], [4, 16], [4, 4], [2, 2], [1, 1]];

const patchSize = (t, stride, dilation, kernel) => (t - 1) * stride + (kernel - 1) * dilation + 1;

// The tile that pads the output least and whose patch fits; ties to the larger tile.
export function chooseWindowTile(plan) {
  const [ho, wo] = plan.output;
  let best = null;
  for (const [th, tw] of TILES) {
    const ph = patchSize(th, plan.stride[0], plan.dilation[0], plan.kernel[0]);
    const pw = patchSize(tw, plan.stride[1], plan.dilation[1], plan.kernel[1]);
    if (ph * pw > PATCH_FLOATS) continue;
    const padded = Math.ceil(ho / th) * th * Math.ceil(wo / tw) * tw;
    if (!best || padded < best.padded) best = { th, tw, ph, pw, padded };
  }
  return best;
}

// WGSL for one output plane z per workgroup row of z: `source` is the WGSL expression of
// the input plane z reads; per tap, `tap` sees `v` (0 outside the input), `iy`, `ix` (i32,
// input coordinates, possibly outside) and `ky`, `kx`; `setup` runs before the taps and
// `result` is the value written. `inputs` starts with `x`. Dispatch: windowGroups.
export function windowKernel({ inputs, spatial, plan, tile, source, setup, tap, result }) {
  const [h, w] = spatial;
  const [ho, wo] = plan.output;
  const { th, tw, ph, pw } = tile;
  return `${declare(inputs)}
const H = ${h}; const W = ${w}; const HO = ${ho}u; const WO = ${wo}u;
const KH = ${plan.kernel[0]}u; const KW = ${plan.kernel[1]}u;
const SH = ${plan.stride[0]}u; const SW = ${plan.stride[1]}u;
const DH = ${plan.dilation[0]}u; const DW = ${plan.dilation[1]}u;
const PH = ${ph}u; const PW = ${pw}u; const TH = ${th}u; const TW = ${tw}u;
var<workgroup> tile: array<f32, ${ph * pw}>;
@compute @workgroup_size(${tw}, ${th}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let z = wid.z;
  let src = ${source};
  let oy0 = wid.y * TH;
  let ox0 = wid.x * TW;
  let iy0 = i32(oy0 * SH) - ${plan.begin[0]};
  let ix0 = i32(ox0 * SW) - ${plan.begin[1]};
  for (var e = li; e < PH * PW; e += TH * TW) {
    let py = iy0 + i32(e / PW);
    let px = ix0 + i32(e % PW);
    var v = 0.0;
    if (py >= 0 && py < H && px >= 0 && px < W) { v = x[(src * u32(H) + u32(py)) * u32(W) + u32(px)]; }
    tile[e] = v;
  }
  workgroupBarrier();
  let oy = oy0 + lid.y;
  let ox = ox0 + lid.x;
  if (oy >= HO || ox >= WO) { return; }
  ${setup}
  for (var ky = 0u; ky < KH; ky++) {
    let ry = lid.y * SH + ky * DH;
    let iy = iy0 + i32(ry);
    for (var kx = 0u; kx < KW; kx++) {
      let rx = lid.x * SW + kx * DW;
      let ix = ix0 + i32(rx);
      let v = tile[ry * PW + rx];
      ${tap}
    }
  }
  y[(z * HO + oy) * WO + ox] = ${result};
}`;
}

export const windowGroups = (plan, tile, planes) =>
  [Math.ceil(plan.output[1] / tile.tw), Math.ceil(plan.output[0] / tile.th), planes];
