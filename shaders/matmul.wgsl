// matmul: C[M,N] = op(A)·op(B) (+ bias[N]), f32 storage and accumulation.
//
// Layouts (row-major): A is M×K, or K×M when TRANS_A; B is K×N, or N×K when
// TRANS_B. The linear layer's three products are all this kernel
// (src/kernels/linear.ts): forward x·Wᵀ (TRANS_B), feedback δy·B (plain; B is
// the feedback tensor's own binding, W's buffer for backprop), weight
// gradient δyᵀ·x (TRANS_A).
//
// One workgroup computes a TM×TN tile of C with WG_M×WG_N threads; each thread
// owns an RM×RN register tile (RM = TM/WG_M, RN = TN/WG_N). Tiles of A and B
// go through workgroup memory TK columns at a time. Out-of-range rows and
// columns are zero-padded on load and skipped on store, so every M, N, K works.
//
// Test: kernels-test/matmul.test.ts. Time: `nowt bench --kernels`.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
/** B (rhs) holds W, read as sign(W)·bScale: sign symmetry's feedback with no B of its own. */
override SIGN_B: bool = false;
/** C ← alpha·op(A)·op(B) + beta·C (C read and written): WM's mirror update fused into its weight-gradient product. */
override ACCUMULATE: bool = false;
override WG_M: u32 = 8u;
override WG_N: u32 = 8u;
const RM = 4u;
const RN = 4u;
// TK (like WG_M, WG_N) is set by the launcher from its tuning config; RM, RN size the register tile, so they stay constants.
override TK: u32 = 16u;

//#include lib/matmul_params

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> lhs: array<f32>;
@group(0) @binding(2) var<storage, read> rhs: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> tileA: array<f32, WG_M * RM * TK>;
var<workgroup> tileB: array<f32, WG_N * RN * TK>;

fn loadA(m: u32, k: u32) -> f32 {
  if (m >= params.M || k >= params.K) { return 0.0; }
  if (TRANS_A) { return lhs[k * params.M + m]; }
  return lhs[m * params.K + k];
}

fn loadB(k: u32, n: u32) -> f32 {
  if (n >= params.N || k >= params.K) { return 0.0; }
  var v: f32;
  if (TRANS_B) { v = rhs[n * params.K + k]; } else { v = rhs[k * params.N + n]; }
  if (SIGN_B) { v = sign(v) * params.bScale; }
  return v;
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let TM = WG_M * RM;
  let TN = WG_N * RN;
  let m0 = wg.y * TM;
  let n0 = wg.x * TN;
  let threads = WG_M * WG_N;
  var acc: array<array<f32, RN>, RM>;
  for (var k0 = 0u; k0 < params.K; k0 += TK) {
    for (var i = li; i < TM * TK; i += threads) {
      let r = i / TK;
      let kk = i % TK;
      tileA[kk * TM + r] = loadA(m0 + r, k0 + kk);
    }
    for (var i = li; i < TN * TK; i += threads) {
      let kk = i / TN;
      let cc = i % TN;
      tileB[kk * TN + cc] = loadB(k0 + kk, n0 + cc);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var a: array<f32, RM>;
      for (var r = 0u; r < RM; r++) { a[r] = tileA[kk * TM + lid.y * RM + r]; }
      for (var c = 0u; c < RN; c++) {
        let b = tileB[kk * TN + lid.x + c * WG_N];
        for (var r = 0u; r < RM; r++) { acc[r][c] = fma(a[r], b, acc[r][c]); }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < RM; r++) {
    let m = m0 + lid.y * RM + r;
    if (m >= params.M) { break; }
    for (var c = 0u; c < RN; c++) {
      let n = n0 + lid.x + c * WG_N;
      if (n < params.N) {
        var v = acc[r][c];
        if (HAS_BIAS) { v += bias[n]; }
        let i = m * params.N + n;
        if (ACCUMULATE) { v = fma(params.alpha, v, params.beta * out[i]); }
        out[i] = v;
      }
    }
  }
}
