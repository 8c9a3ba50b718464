// conv2d forward as an implicit GEMM (no im2col buffer), with a fused epilogue:
//
//   y[n,o,oy,ox] = act( (Σ_{c,ky,kx} w[o,c,ky,kx] · x[n,c,oy·S−P+ky, ox·S−P+kx]
//                        + bias[o]) · scale[o] + shift[o] + residual[n,o,oy,ox] )
//
// Layouts (PyTorch): x N×C×H×W, w O×C×KH×KW, y and residual N×O×OH×OW; zero
// padding P and one stride S on both axes.
// GEMM view: Y[o, p] = Σ_k W[o, k] · X[k, p] with rows o < O, columns
// p < N·OH·OW (output pixels), k = (c, ky, kx) < C·KH·KW. W is the weight
// tensor as it lies; X is gathered from x on the fly (zero outside the image).
//
// One workgroup of 8×WG_M threads computes a TM×TN tile of Y (TM = 8·WG_M
// channels, TN = 64 pixels); each thread owns an 8×8 register tile (rows
// 8·lid.y.., columns 8·lid.x..) as 16 vec4 accumulators. Per step of TK along
// k the workgroup stages W and X in workgroup memory as vec4s of 4 rows or 4
// columns (zero-padded past O, P and K); a thread then reads 2 + 2 vec4s per
// k for 64 FMAs. Each thread stages the same 4 pixels on every step, so their
// (n, oy, ox) are decoded once.
//
// Variants (override constants): WG_M (rows of threads); epilogue HAS_BIAS,
// HAS_BN (y·scale[o] + shift[o]), HAS_RESIDUAL, RELU, applied in that order;
// STATS also writes each row's (mean, M2) over the tile's 64 columns of y
// (batchnorm's partials layout), so a following training batchnorm needs no
// pass over y of its own, only a merge. It reduces through workgroup memory,
// not subgroup operations, so that it runs on every GPU.
// Kernel size and stride are uniforms, so one pipeline serves every layer
// (each pipeline costs seconds of LLVM time on lavapipe); k's decode divides
// by multiplying with f32 reciprocals (a u32 division is 8 scalar divides on
// a SIMD CPU) and corrects the quotient by one.
//
// Napkin math (lavapipe, 8-wide AVX2, no FMA instruction so mul+add): every
// load is a per-lane gather costing ~30 FMAs whether it fetches a float or a
// vec4, so the 8×8 tile does 64 FMAs per 4 vec4 loads (~2 FMAs of load cost
// per FMA), and staging adds (1/TM + 1/TN)·4 scalar gathers per FMA·k. So
// ~1/3 of the probe's FMA peak at best; measured 2.2–2.9 GFLOP/s on
// N=1 C=64 28×28 O=64 3×3 (probe peak 5–13 GFLOP/s with the machine's load).
//
// Test: npx uvu -r tsx kernels-test "conv2d(_bn_stats)?\.test\.ts$". Time: a script that
// runs conv2dForward (src/kernels/conv2d.ts) once, then three times timed.

override WG_M: u32 = 8u;
override HAS_BIAS: bool = false;
override HAS_BN: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;
/** Also write per-tile batchnorm statistics partials of y (see tileStats). */
override STATS: bool = false;
// WG_N, TK (and GN) are overrides the launcher sets from its tuning config (src/kernels/tuning.ts);
// RG, CG size the per-thread register arrays, so they stay constants (tuning.test.ts checks the config against them).
override WG_N: u32 = 8u;
// A thread's register tile: RG groups of 4 rows × CG groups of 4 columns.
const RG = 2u;
const CG = 2u;
const RM = 4u * RG;
const RN = 4u * CG;
override TK: u32 = 8u;
// Vec4 groups per staged k: GM of rows, GN of columns.
override GM: u32 = WG_M * RG;
override GN: u32 = WG_N * CG;

struct Params {
  C: u32,
  H: u32,
  W: u32,
  O: u32,
  OH: u32,
  OW: u32,
  stride: u32,
  pad: u32,
  /** N·OH·OW */
  P: u32,
  KH: u32,
  KW: u32,
  /** C·KH·KW */
  K: u32,
  /** 1/(KH·KW), 1/KW, 1/(OH·OW), 1/OW as f32, for udiv */
  invKHW: f32,
  invKW: f32,
  invOHW: f32,
  invOW: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> bn_scale: array<f32>;
@group(0) @binding(5) var<storage, read> bn_shift: array<f32>;
@group(0) @binding(6) var<storage, read> residual: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
/** STATS: (mean, M2) per (output channel, column block of TN), O × chunks × 2; chunks = num_workgroups.x. */
@group(0) @binding(8) var<storage, read_write> stats: array<f32>;

//#include lib/udiv

// tileW[kk·GM + g] = W[m0+4g .. m0+4g+3, k0+kk]; tileX[kk·GN + h] = X[k0+kk, n0+4h .. n0+4h+3].
var<workgroup> tileW: array<vec4f, TK * GM>;
var<workgroup> tileX: array<vec4f, TK * GN>;
var<private> acc: array<array<vec4f, CG>, RM>;
// STATS: per (tile row, thread column) partial sums, then per-row means.
// Sized by an override so that STATS = false reserves no workgroup memory.
override STAT_SLOTS: u32 = select(1u, WG_M * RM * WG_N, STATS);
override STAT_ROWS: u32 = select(1u, WG_M * RM, STATS);
var<workgroup> statSum: array<f32, STAT_SLOTS>;
var<workgroup> statMean: array<f32, STAT_ROWS>;

fn weight(o: u32, k: u32) -> f32 {
  if (o >= params.O || k >= params.K) { return 0.0; }
  return w[o * params.K + k];
}

// The register-tile update for one staged k: 2 + 2 vec4 reads, 64 FMAs.
fn tileStep(kk: u32, ty: u32, tx: u32) {
  var b: array<vec4f, CG>;
  for (var j = 0u; j < CG; j++) { b[j] = tileX[kk * GN + tx * CG + j]; }
  for (var g = 0u; g < RG; g++) {
    let a = tileW[kk * GM + ty * RG + g];
    for (var j = 0u; j < CG; j++) {
      acc[4u * g][j] = fma(vec4(a.x), b[j], acc[4u * g][j]);
      acc[4u * g + 1u][j] = fma(vec4(a.y), b[j], acc[4u * g + 1u][j]);
      acc[4u * g + 2u][j] = fma(vec4(a.z), b[j], acc[4u * g + 2u][j]);
      acc[4u * g + 3u][j] = fma(vec4(a.w), b[j], acc[4u * g + 3u][j]);
    }
  }
}

// Σ (v − mu) (or Σ (v − mu)² with squares) over the thread's 8 columns of register row r that lie before P.
fn rowSum(r: u32, ok: array<vec4<bool>, CG>, mu: f32, squares: bool) -> f32 {
  var t = 0.0;
  for (var j = 0u; j < CG; j++) {
    let d = select(vec4f(0.0), acc[r][j] - mu, ok[j]);
    if (squares) { t += dot(d, d); } else { t += dot(d, vec4f(1.0)); }
  }
  return t;
}

// STATS: (mean, M2) over this tile's columns of each row's written values,
// at stats[2·(o·chunks + s)]: the layout of batchnorm.wgsl's stats_partial,
// which stats_merge merges. Two passes over the registers, so M2 is centred
// (E[v²] − E[v]² cancels when |mean| ≫ std); the 8 threads of a row meet in
// workgroup memory, and thread li finishes tile row li (threads = TM rows).
fn tileStats(s: u32, chunks: u32, m0: u32, tx: u32, ty: u32, li: u32) {
  let n0 = s * 4u * GN;
  let count = f32(min(4u * GN, params.P - n0));
  var ok: array<vec4<bool>, CG>;
  for (var j = 0u; j < CG; j++) { ok[j] = (vec4u(n0 + RN * tx + 4u * j) + vec4u(0u, 1u, 2u, 3u)) < vec4u(params.P); }
  for (var r = 0u; r < RM; r++) { statSum[(RM * ty + r) * WG_N + tx] = rowSum(r, ok, 0.0, false); }
  workgroupBarrier();
  var t = 0.0;
  for (var k = 0u; k < WG_N; k++) { t += statSum[li * WG_N + k]; }
  statMean[li] = t / count;
  workgroupBarrier();
  for (var r = 0u; r < RM; r++) { statSum[(RM * ty + r) * WG_N + tx] = rowSum(r, ok, statMean[RM * ty + r], true); }
  workgroupBarrier();
  var m2 = 0.0;
  for (var k = 0u; k < WG_N; k++) { m2 += statSum[li * WG_N + k]; }
  let o = m0 + li;
  if (o < params.O) {
    let at = 2u * (o * chunks + s);
    stats[at] = statMean[li];
    stats[at + 1u] = m2;
  }
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32, @builtin(num_workgroups) nwg: vec3u) {
  let threads = WG_M * WG_N;
  let m0 = wg.y * 4u * GM;
  let n0 = wg.x * 4u * GN;
  let K = params.K;
  let H = params.H;
  let W = params.W;
  let HW = H * W;
  let OHW = params.OH * params.OW;

  // The 4 pixels n0+4h.. this thread stages on every step (threads is a multiple of GN).
  let h = li % GN;
  var xBase: array<u32, 4>;
  var iy0: array<i32, 4>;
  var ix0: array<i32, 4>;
  for (var e = 0u; e < 4u; e++) {
    let p = n0 + 4u * h + e;
    let pc = min(p, params.P - 1u);
    let n = udiv(pc, OHW, params.invOHW);
    let pix = pc - n * OHW;
    let oy = udiv(pix, params.OW, params.invOW);
    xBase[e] = n * params.C * HW;
    // A pixel past P gets a window far outside the image, so its column stays zero.
    iy0[e] = select(-0x40000000, i32(oy * params.stride) - i32(params.pad), p < params.P);
    ix0[e] = i32((pix - oy * params.OW) * params.stride) - i32(params.pad);
  }

  for (var k0 = 0u; k0 < K; k0 += TK) {
    for (var s = li; s < TK * GM; s += threads) {
      let k = k0 + s % TK;
      let o = m0 + 4u * (s / TK);
      tileW[(s % TK) * GM + s / TK] = vec4(weight(o, k), weight(o + 1u, k), weight(o + 2u, k), weight(o + 3u, k));
    }
    for (var kk = li / GN; kk < TK; kk += threads / GN) {
      let k = k0 + kk;
      let c = udiv(k, params.KH * params.KW, params.invKHW);
      let t = k - c * params.KH * params.KW;
      let ky = udiv(t, params.KW, params.invKW);
      let kx = t - ky * params.KW;
      var v = vec4(0.0);
      for (var e = 0u; e < 4u; e++) {
        let iy = iy0[e] + i32(ky);
        let ix = ix0[e] + i32(kx);
        if (k < K && u32(iy) < H && u32(ix) < W) { v[e] = x[xBase[e] + c * HW + u32(iy) * W + u32(ix)]; }
      }
      tileX[kk * GN + h] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) { tileStep(kk, lid.y, lid.x); }
    workgroupBarrier();
  }

  for (var e = 0u; e < RN; e++) {
    let p = n0 + RN * lid.x + e;
    if (p >= params.P) { break; }
    let n = udiv(p, OHW, params.invOHW);
    let yBase = n * params.O * OHW + p - n * OHW;
    for (var r = 0u; r < RM; r++) {
      let o = m0 + RM * lid.y + r;
      if (o >= params.O) { break; }
      var v = acc[r][e / 4u][e % 4u];
      if (HAS_BIAS) { v += bias[o]; }
      if (HAS_BN) { v = fma(v, bn_scale[o], bn_shift[o]); }
      let i = yBase + o * OHW;
      if (HAS_RESIDUAL) { v += residual[i]; }
      if (RELU) { v = max(v, 0.0); }
      y[i] = v;
      if (STATS) { acc[r][e / 4u][e % 4u] = v; }
    }
  }
  if (STATS) { tileStats(wg.x, nwg.x, m0, lid.x, lid.y, li); }
}
