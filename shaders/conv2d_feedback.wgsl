// conv2d feedback: the transposed convolution that carries the teaching signal
// back through a conv layer, reading the feedback tensor B (shaped like W):
//
//   dx[n,c,iy,ix] = Σ_{o,ky,kx : iy = oy·S−P+ky, ix = ox·S−P+kx} dy[n,o,oy,ox] · B[o,c,ky,kx]
//
// With B = W (backprop: the caller binds W's buffer) this is ∂L/∂x.
// Layouts (PyTorch): dy N×O×OH×OW, B O×C×KH×KW, dx N×C×H×W.
//
// Stride phases: an input pixel with (iy+P) mod S = ry only meets taps
// ky ≡ ry (mod S), and then oy = (iy+P−ry)/S − ty for ky = ry + S·ty. So
// each of the S² phases (workgroup_id.z) is a dense GEMM with no wasted
// taps:  dx[c, p] = Σ_{k'} Bᵀ[c, k'] · Dy[k', p]  over the phase's pixels p
// and k' = (o, ty, tx) < O·TY·TX, TY = ⌈(KH−ry)/S⌉ taps for this phase (so
// the phases together do exactly the forward's FLOPs). Input rows or columns
// that no window reaches, e.g. when (H+2P−KH) mod S ≠ 0, get zero.
//
// Threads and tiles as in conv2d_forward.wgsl: a workgroup computes a TM×TN
// tile (TM = 8·WG_M input channels, TN = 64 pixels of one phase), each thread
// an 8×8 register tile of vec4s; B and dy are staged TK k' at a time in
// workgroup memory as vec4s, 2 + 2 vec4 reads per k' feed 64 FMAs. Each
// thread stages the same 4 pixels on every step, decoded once.
//
// Variants (override constants): WG_M; SIGN_B (B = sign(W)·s read from W). Kernel size and stride are uniforms
// (one pipeline for every layer); the k' decode divides through f32
// reciprocals of the phase's tap counts, as in conv2d_forward.wgsl.
//
// Napkin math: as the forward (64 FMAs per 4 vec4 loads per k'), and the
// phase split makes stride 2 cost the same FLOPs as the forward.
//
// Test: npx uvu -r tsx kernels-test "conv2d\.test\.ts$".

override WG_M: u32 = 8u;
/** The feedback binding holds W, read as B = sign(W)·bScale (sign symmetry derives B on load). */
override SIGN_B: bool = false;
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
  N: u32,
  C: u32,
  H: u32,
  W: u32,
  O: u32,
  OH: u32,
  OW: u32,
  KH: u32,
  KW: u32,
  stride: u32,
  pad: u32,
  /** with SIGN_B: the scale s of B = sign(W)·s */
  bScale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> feedback: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

//#include lib/udiv

// B at i: as stored, or with SIGN_B as sign(W)·s.
fn feedbackAt(i: u32) -> f32 {
  if (SIGN_B) { return sign(feedback[i]) * params.bScale; }
  return feedback[i];
}

// tileB[kk·GM + g] = Bᵀ[m0+4g .. m0+4g+3, k0+kk]; tileD[kk·GN + h] = Dy[k0+kk, n0+4h .. n0+4h+3].
var<workgroup> tileB: array<vec4f, TK * GM>;
var<workgroup> tileD: array<vec4f, TK * GN>;
var<private> acc: array<array<vec4f, CG>, RM>;

// The register-tile update for one staged k': 2 + 2 vec4 reads, 64 FMAs.
fn tileStep(kk: u32, ty: u32, tx: u32) {
  var b: array<vec4f, CG>;
  for (var j = 0u; j < CG; j++) { b[j] = tileD[kk * GN + tx * CG + j]; }
  for (var g = 0u; g < RG; g++) {
    let a = tileB[kk * GM + ty * RG + g];
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
  let C = params.C;
  let H = params.H;
  let W = params.W;
  let OHW = params.OH * params.OW;
  let KH = params.KH;
  let KW = params.KW;
  let S = params.stride;

  // This workgroup's phase: the input pixels with (iy+P) mod S = ry, (ix+P) mod S = rx,
  // which meet the taps ky = ry + S·ty < KH, kx = rx + S·tx < KW (none when ry ≥ KH: dx = 0).
  let invS = 1.0 / f32(S);
  let ry = udiv(wg.z, S, invS);
  let rx = wg.z - ry * S;
  let TX = select(0u, udiv(KW - rx + S - 1u, S, invS), rx < KW);
  let T = select(0u, udiv(KH - ry + S - 1u, S, invS), ry < KH) * TX;
  let K = params.O * T;
  let invT = 1.0 / f32(max(T, 1u));
  let invTX = 1.0 / f32(max(TX, 1u));
  let padS = params.pad - udiv(params.pad, S, invS) * S;
  let iyS = select(ry + S - padS, ry - padS, ry >= padS);
  let ixS = select(rx + S - padS, rx - padS, rx >= padS);
  let Hy = select(0u, udiv(H - iyS + S - 1u, S, invS), iyS < H);
  let Wx = select(0u, udiv(W - ixS + S - 1u, S, invS), ixS < W);
  let HWp = Hy * Wx;
  let Pp = params.N * HWp;
  if (n0 >= Pp) { return; }
  let qy0 = udiv(iyS + params.pad - ry, S, invS);
  let qx0 = udiv(ixS + params.pad - rx, S, invS);
  let invHWp = 1.0 / f32(max(HWp, 1u));
  let invWx = 1.0 / f32(max(Wx, 1u));

  // The 4 phase pixels n0+4h.. this thread stages on every step (threads is a multiple of GN).
  let h = li % GN;
  var dyBase: array<u32, 4>;
  var qy: array<i32, 4>;
  var qx: array<i32, 4>;
  for (var e = 0u; e < 4u; e++) {
    let p = n0 + 4u * h + e;
    let pc = min(p, Pp - 1u);
    let n = udiv(pc, HWp, invHWp);
    let u = udiv(pc - n * HWp, Wx, invWx);
    dyBase[e] = n * params.O * OHW;
    // A pixel past the phase gets windows far outside dy, so its column stays zero.
    qy[e] = select(-0x40000000, i32(qy0 + u), p < Pp);
    qx[e] = i32(qx0 + pc - n * HWp - u * Wx);
  }

  for (var k0 = 0u; k0 < K; k0 += TK) {
    for (var s = li; s < TK * GM; s += threads) {
      let k = k0 + s % TK;
      let c = m0 + 4u * (s / TK);
      let o = udiv(k, T, invT);
      let t = k - o * T;
      let ty = udiv(t, TX, invTX);
      let ky = ry + S * ty;
      let kx = rx + S * (t - ty * TX);
      var v = vec4(0.0);
      if (k < K) {
        let base = ((o * C + c) * KH + ky) * KW + kx;
        for (var e = 0u; e < 4u; e++) {
          if (c + e < C) { v[e] = feedbackAt(base + e * KH * KW); }
        }
      }
      tileB[(s % TK) * GM + s / TK] = v;
    }
    for (var kk = li / GN; kk < TK; kk += threads / GN) {
      let k = k0 + kk;
      let o = udiv(k, T, invT);
      let t = k - o * T;
      let ty = udiv(t, TX, invTX);
      let tx = t - ty * TX;
      var v = vec4(0.0);
      for (var e = 0u; e < 4u; e++) {
        let oy = qy[e] - i32(ty);
        let ox = qx[e] - i32(tx);
        if (k < K && u32(oy) < params.OH && u32(ox) < params.OW) {
          v[e] = dy[dyBase[e] + o * OHW + u32(oy) * params.OW + u32(ox)];
        }
      }
      tileD[kk * GN + h] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) { tileStep(kk, lid.y, lid.x); }
    workgroupBarrier();
  }

  for (var e = 0u; e < RN; e++) {
    let p = n0 + RN * lid.x + e;
    if (p >= Pp) { break; }
    let n = udiv(p, HWp, invHWp);
    let u = udiv(p - n * HWp, Wx, invWx);
    let iy = iyS + S * u;
    let ix = ixS + S * (p - n * HWp - u * Wx);
    let base = n * C * H * W + iy * W + ix;
    for (var r = 0u; r < RM; r++) {
      let ch = m0 + RM * lid.y + r;
      if (ch >= C) { break; }
      dx[base + ch * H * W] = acc[r][e / 4u][e % 4u];
    }
  }
}
