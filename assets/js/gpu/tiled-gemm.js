// The tiled matrix product behind Conv (as an implicit im2col: the input's windows are read
// straight from the image, never stored) and Gemm/MatMul. Each workgroup computes a TM × TN
// tile of the output, each thread an RM × RN block of it held in registers; the operands
// pass through workgroup memory TK deep, so every value read from global memory is used
// TM (or TN) times. The tile is chosen per layer shape (chooseTile).
import { declare } from "./wgsl.js";

// [TM, TN, RM, RN]: 256 threads each, from square tiles for big layers to a 1 × 256 strip
// for a fully-connected layer on one image.
const TILES = [
  [64, 64, 4, 4], [32, 64, 2, 4], [64, 32, 4, 2], [32, 32, 2, 2], [16, 64, 1, 4],
  [64, 16, 4, 1], [8, 128, 1, 4], [128, 8, 4, 1], [4, 256, 1, 4], [1, 256, 1, 1],
  [16, 16, 1, 1],
];

// The tile that wastes least on a rows × cols product: work padded to whole tiles, weighted
// by workgroup-memory reads per multiply-add (a 1 × 1 block reads twice per product, a
// 4 × 4 block half as often).
export function chooseTile(rows, cols) {
  let best = null;
  for (const [tm, tn, rm, rn] of TILES) {
    const padded = Math.ceil(rows / tm) * tm * Math.ceil(cols / tn) * tn;
    const cost = padded * (1 + 0.5 * (1 / rm + 1 / rn));
    if (!best || cost < best.cost) best = { tm, tn, rm, rn, cost };
  }
  const tk = Math.min(16, 2 ** Math.floor(Math.log2(3072 / (best.tm + best.tn))));
  return { ...best, tk };
}

// WGSL for out[z][r][c] = Σ_k A(z, r, k) · B(z, k, c): `loadA(z, r, k)`, `loadB(z, k, c)`
// and `store(z, r, c, acc)` are WGSL functions the caller writes (its tensor layout, bias
// and fused activation); `aAlongK`/`bAlongK` say which way each operand is contiguous in
// memory, so neighbouring threads load neighbouring addresses. Dispatch: gemmGroups.
export function tiledGemm({ inputs, rows, cols, depth, tile, loadA, loadB, store, aAlongK, bAlongK }) {
  const { tm, tn, rm, rn, tk } = tile;
  const wx = tn / rn;
  const wy = tm / rm;
  const threads = wx * wy;
  const aIndex = aAlongK ? "let kk = e % TK; let m = e / TK;" : "let m = e % TM; let kk = e / TM;";
  const bIndex = bAlongK ? "let kk = e % TK; let n = e / TK;" : "let n = e % TN; let kk = e / TN;";
  // The thread's block is spelt out as scalars (acc_i_j, a_i, b_j): registers for certain,
  // whatever the compiler does with small arrays.
  const block = [];
  for (let i = 0; i < rm; i++) for (let j = 0; j < rn; j++) block.push([i, j]);
  const each = (count, line) => Array.from({ length: count }, (_, i) => line(i)).join("\n      ");
  // A cooperative load of `total` values, `threads` at a time, unrolled.
  const load = (total, body) => {
    const rounds = Math.ceil(total / threads);
    const guard = total % threads ? `if (e < ${total}u) ` : "";
    return `for (var q = 0u; q < ${rounds}u; q++) {
      let e = li + q * THREADS;
      ${guard}{ ${body} }
    }`;
  };
  return `${declare(inputs)}
const TM = ${tm}u; const TN = ${tn}u; const TK = ${tk}u;
const WX = ${wx}u; const WY = ${wy}u; const THREADS = ${threads}u;
const ROWS = ${rows}u; const COLS = ${cols}u; const DEPTH = ${depth}u;
var<workgroup> As: array<f32, ${tm * tk}>;
var<workgroup> Bs: array<f32, ${tn * tk}>;
${loadA}
${loadB}
${store}
@compute @workgroup_size(${wx}, ${wy}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let z = wid.z;
  let r0 = wid.y * TM;
  let c0 = wid.x * TN;
  ${block.map(([i, j]) => `var acc_${i}_${j} = 0.0;`).join(" ")}
  for (var k0 = 0u; k0 < DEPTH; k0 += TK) {
    ${load(tm * tk, `${aIndex}
        var v = 0.0;
        if (r0 + m < ROWS && k0 + kk < DEPTH) { v = loadA(z, r0 + m, k0 + kk); }
        As[kk * TM + m] = v;`)}
    ${load(tn * tk, `${bIndex}
        var v = 0.0;
        if (c0 + n < COLS && k0 + kk < DEPTH) { v = loadB(z, k0 + kk, c0 + n); }
        Bs[kk * TN + n] = v;`)}
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      ${each(rm, (i) => `let a_${i} = As[kk * TM + lid.y + ${i * wy}u];`)}
      ${each(rn, (j) => `let b_${j} = Bs[kk * TN + lid.x + ${j * wx}u];`)}
      ${block.map(([i, j]) => `acc_${i}_${j} = fma(a_${i}, b_${j}, acc_${i}_${j});`).join("\n      ")}
    }
    workgroupBarrier();
  }
  ${block.map(([i, j]) => `if (r0 + lid.y + ${i * wy}u < ROWS && c0 + lid.x + ${j * wx}u < COLS) {
    store(z, r0 + lid.y + ${i * wy}u, c0 + lid.x + ${j * wx}u, acc_${i}_${j});
  }`).join("\n  ")}
}`;
}

export const gemmGroups = (rows, cols, batches, tile) =>
  [Math.ceil(cols / tile.tn), Math.ceil(rows / tile.tm), batches];
