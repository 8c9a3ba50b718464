// conv2d weight and bias gradients (summed over the batch, not averaged):
//
//   dW[o,c,ky,kx] = Σ_{n,oy,ox} dy[n,o,oy,ox] · x[n,c,oy·S−P+ky, ox·S−P+kx]
//   db[o]         = Σ_{n,oy,ox} dy[n,o,oy,ox]
//
// Layouts (PyTorch): x N×C×H×W, dy N×O×OH×OW, dW O×C×KH×KW, db O.
// GEMM view: dW[o, k] = Σ_p Dy[o, p] · X[k, p] with k = (c, ky, kx) <
// C·KH·KW and the reduction over the output pixels p < N·OH·OW; Dy is dy as
// it lies, X is gathered from x (zero outside the image).
//
// Entry points:
//   main           a workgroup computes a TM×TN tile of dW (TM = 8·WG_M
//                  output channels, TN = 64 k's) over the pixel range of
//                  its split (workgroup_id.z) and writes it to out at
//                  split·O·K (out is dW itself when there is one split).
//                  Threads and 8×8 vec4 register tiles as in
//                  conv2d_forward.wgsl; a thread stages one pixel per step,
//                  so it decodes (n, oy, ox) once per step, and k through
//                  f32 reciprocals.
//   reduce_splits  split-K second pass: dW[i] = Σ_s partial[s·O·K + i].
// With ACCUMULATE whichever entry writes dW blends into it instead:
// dW ← alpha·(the sum) + beta·dW (WM's mirror update B ← (1−λ)·B + η/n·corr
// done where corr is made, saving a pass over B).
//   bias_grad      one workgroup per output channel: strided sums over the
//                  pixels (consecutive lanes read consecutive floats), then
//                  a tree in workgroup memory.
//
// Split-K: the stem and early layers have few dW tiles (O·C·KH·KW small) over
// a long reduction (N·OH·OW large); the launcher splits the reduction when the
// tiles alone would leave cores idle, at the cost of one partial dW per split.
//
// Napkin math: main does 64 FMAs per 4 vec4 tile loads per pixel, like the
// forward; reduce_splits and bias_grad are memory-bound (one load per add).
//
// Test: npx uvu -r tsx kernels-test "conv2d\.test\.ts$".

override WG_M: u32 = 8u;
override WG: u32 = 64u;
override ACCUMULATE: bool = false;
// WG_N, TK (and GN) are overrides the launcher sets from its tuning config (src/kernels/tuning.ts);
// RG, CG size the per-thread register arrays, so they stay constants (tuning.test.ts checks the config against them).
override WG_N: u32 = 8u;
const RG = 2u;
const CG = 2u;
const RM = 4u * RG;
const RN = 4u * CG;
override TK: u32 = 8u;
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
  /** N·OH·OW, the reduction length */
  P: u32,
  KH: u32,
  KW: u32,
  /** C·KH·KW */
  K: u32,
  /** pixels per split, a multiple of TK */
  chunk: u32,
  /** 1/(KH·KW), 1/KW, 1/(OH·OW), 1/OW as f32, for udiv */
  invKHW: f32,
  invKW: f32,
  invOHW: f32,
  invOW: f32,
  /** ACCUMULATE (one split): dW ← alpha·sum + beta·dW */
  alpha: f32,
  beta: f32,
}

struct ReduceParams {
  count: u32,
  splits: u32,
  /** ACCUMULATE: dW ← alpha·sum + beta·dW */
  alpha: f32,
  beta: f32,
}

struct BiasParams {
  N: u32,
  O: u32,
  OHW: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> rparams: ReduceParams;
@group(0) @binding(5) var<storage, read> partial: array<f32>;
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;
@group(0) @binding(7) var<uniform> bparams: BiasParams;
@group(0) @binding(8) var<storage, read_write> db: array<f32>;

//#include lib/udiv

// tileD[kk·GM + g] = Dy[m0+4g .. m0+4g+3, p0+kk]; tileX[kk·GN + h] = X[n0+4h .. n0+4h+3, p0+kk].
var<workgroup> tileD: array<vec4f, TK * GM>;
var<workgroup> tileX: array<vec4f, TK * GN>;
var<workgroup> red: array<f32, WG>;
var<private> acc: array<array<vec4f, CG>, RM>;

// The register-tile update for one staged pixel: 2 + 2 vec4 reads, 64 FMAs.
fn tileStep(kk: u32, ty: u32, tx: u32) {
  var b: array<vec4f, CG>;
  for (var j = 0u; j < CG; j++) { b[j] = tileX[kk * GN + tx * CG + j]; }
  for (var g = 0u; g < RG; g++) {
    let a = tileD[kk * GM + ty * RG + g];
    for (var j = 0u; j < CG; j++) {
      acc[4u * g][j] = fma(vec4(a.x), b[j], acc[4u * g][j]);
      acc[4u * g + 1u][j] = fma(vec4(a.y), b[j], acc[4u * g + 1u][j]);
      acc[4u * g + 2u][j] = fma(vec4(a.z), b[j], acc[4u * g + 2u][j]);
      acc[4u * g + 3u][j] = fma(vec4(a.w), b[j], acc[4u * g + 3u][j]);
    }
  }
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let threads = WG_M * WG_N;
  let m0 = wg.y * 4u * GM;
  let n0 = wg.x * 4u * GN;
  let O = params.O;
  let K = params.K;
  let H = params.H;
  let W = params.W;
  let HW = H * W;
  let OHW = params.OH * params.OW;
  let KHW = params.KH * params.KW;
  let pBegin = wg.z * params.chunk;
  let pEnd = min(params.P, pBegin + params.chunk);

  // Every slot this thread stages lies on pixel kk = li % TK of the step (threads is a multiple of TK).
  let kk = li % TK;
  for (var p0 = pBegin; p0 < pEnd; p0 += TK) {
    let p = p0 + kk;
    let pOk = p < pEnd;
    let pc = min(p, params.P - 1u);
    let n = udiv(pc, OHW, params.invOHW);
    let pix = pc - n * OHW;
    let oy = udiv(pix, params.OW, params.invOW);
    // A pixel past the split gets a window far outside the image (x reads zero) and dy reads are skipped.
    let iy0 = select(-0x40000000, i32(oy * params.stride) - i32(params.pad), pOk);
    let ix0 = i32((pix - oy * params.OW) * params.stride) - i32(params.pad);
    let dyBase = n * O * OHW + pix;
    let xBase = n * params.C * HW;
    for (var g = li / TK; g < GM; g += threads / TK) {
      let o = m0 + 4u * g;
      var v = vec4(0.0);
      for (var e = 0u; e < 4u; e++) {
        if (pOk && o + e < O) { v[e] = dy[dyBase + (o + e) * OHW]; }
      }
      tileD[kk * GM + g] = v;
    }
    for (var hh = li / TK; hh < GN; hh += threads / TK) {
      var v = vec4(0.0);
      for (var e = 0u; e < 4u; e++) {
        let k = n0 + 4u * hh + e;
        let c = udiv(k, KHW, params.invKHW);
        let t = k - c * KHW;
        let ky = udiv(t, params.KW, params.invKW);
        let iy = iy0 + i32(ky);
        let ix = ix0 + i32(t - ky * params.KW);
        if (k < K && u32(iy) < H && u32(ix) < W) { v[e] = x[xBase + c * HW + u32(iy) * W + u32(ix)]; }
      }
      tileX[kk * GN + hh] = v;
    }
    workgroupBarrier();
    for (var j = 0u; j < TK; j++) { tileStep(j, lid.y, lid.x); }
    workgroupBarrier();
  }

  let outBase = wg.z * O * K;
  for (var r = 0u; r < RM; r++) {
    let o = m0 + RM * lid.y + r;
    if (o >= O) { break; }
    for (var e = 0u; e < RN; e++) {
      let k = n0 + RN * lid.x + e;
      if (k < K) {
        let i = outBase + o * K + k;
        var v = acc[r][e / 4u][e % 4u];
        if (ACCUMULATE) { v = fma(params.alpha, v, params.beta * out[i]); }
        out[i] = v;
      }
    }
  }
}

@compute @workgroup_size(WG)
fn reduce_splits(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= rparams.count) { return; }
  var s = 0.0;
  for (var z = 0u; z < rparams.splits; z++) { s += partial[z * rparams.count + i]; }
  if (ACCUMULATE) { s = fma(rparams.alpha, s, rparams.beta * dw[i]); }
  dw[i] = s;
}

@compute @workgroup_size(WG)
fn bias_grad(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let o = wg.x;
  let OHW = bparams.OHW;
  var s = 0.0;
  for (var n = 0u; n < bparams.N; n++) {
    let base = (n * bparams.O + o) * OHW;
    for (var i = li; i < OHW; i += WG) { s += dy[base + i]; }
  }
  red[li] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (li < half) { red[li] += red[li + half]; }
    workgroupBarrier();
  }
  if (li == 0u) { db[o] = red[0]; }
}
