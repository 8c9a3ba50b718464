// matmul_lanes: C[M,N] = op(A)·op(B) (+ bias[N]) tiled for CPU adapters
// (lavapipe), one entry point per operand layout:
//   nt  A M×K, B N×K (both K-contiguous)   linear forward x·Wᵀ      needs K%4=0
//   nn  A M×K, B K×N                        linear feedback δy·B     needs K%4=0, N%4=0
//   tn  A K×M, B K×N                        linear weight grad δyᵀ·x needs M%4=0, N%4=0
//
// Why this shape: on lavapipe every storage load is a per-lane gather costing
// about as much as 30 FMAs, whether it fetches one float or a vec4, while a
// subgroupBroadcast is a register shuffle. So a workgroup is one subgroup of
// 8 lanes; each lane loads one vec4 of A (8 rows' worth across the subgroup),
// which reaches every lane by broadcast, and a few vec4s of B that only it
// uses. Napkin math: nt 5 loads per 32 vec4-FMAs; nn and tn 5 per 32 as well.
//
// Tile of C per workgroup: nt 8×32 (lane l owns columns l+8j, j<4, with vec4
// accumulators along K); nn and tn 8×32 (lane l owns columns 4l..4l+3, vec4
// accumulators along N). Rows and columns past M or N are clamped on load and
// skipped on store; tn zeroes rows of A and B past K.
// Needs the `subgroups` feature with a subgroup size of exactly 8
// (src/kernels/matmul.ts checks).
//
// Test: kernels-test/matmul.test.ts. Time: `nowt bench --kernels`.

enable subgroups;

override HAS_BIAS: bool = false;
/** nn: B (rhs) holds W, read as sign(W)·bScale (sign symmetry's feedback with no B of its own). */
override SIGN_B: bool = false;
/** C ← alpha·op(A)·op(B) + beta·C (C read and written): WM's mirror update fused into its weight-gradient product. */
override ACCUMULATE: bool = false;
const RM = 8u;
const CN = 4u;

//#include lib/matmul_params

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> lhs: array<vec4f>;
@group(0) @binding(2) var<storage, read> rhs: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<private> acc: array<array<vec4f, CN>, RM>;

fn store(i: u32, v: f32) {
  if (ACCUMULATE) {
    out[i] = fma(params.alpha, v, params.beta * out[i]);
  } else {
    out[i] = v;
  }
}
var<private> bv: array<vec4f, CN>;

fn rowFma(r: u32, ar: vec4f) {
  for (var j = 0u; j < CN; j++) { acc[r][j] = fma(ar, bv[j], acc[r][j]); }
}

@compute @workgroup_size(8)
fn nt(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let K4 = params.K / 4u;
  let m0 = wg.y * RM;
  let n0 = wg.x * (8u * CN) + lid.x;
  let aRow = min(m0 + lid.x, params.M - 1u) * K4;
  var bRow: array<u32, CN>;
  for (var j = 0u; j < CN; j++) { bRow[j] = min(n0 + 8u * j, params.N - 1u) * K4; }
  for (var k = 0u; k < K4; k++) {
    let al = lhs[aRow + k];
    for (var j = 0u; j < CN; j++) { bv[j] = rhs[bRow[j] + k]; }
    // subgroupBroadcast wants a constant lane, hence one line per row.
    rowFma(0u, subgroupBroadcast(al, 0u));
    rowFma(1u, subgroupBroadcast(al, 1u));
    rowFma(2u, subgroupBroadcast(al, 2u));
    rowFma(3u, subgroupBroadcast(al, 3u));
    rowFma(4u, subgroupBroadcast(al, 4u));
    rowFma(5u, subgroupBroadcast(al, 5u));
    rowFma(6u, subgroupBroadcast(al, 6u));
    rowFma(7u, subgroupBroadcast(al, 7u));
  }
  for (var j = 0u; j < CN; j++) {
    let n = n0 + 8u * j;
    if (n >= params.N) { break; }
    var b = 0.0;
    if (HAS_BIAS) { b = bias[n]; }
    for (var r = 0u; r < RM; r++) {
      let m = m0 + r;
      if (m < params.M) { store(m * params.N + n, dot(acc[r][j], vec4f(1.0)) + b); }
    }
  }
}

// nn and tn: lane l owns the 4 columns n0+4l.. of C; acc[r][0] holds them for row r.
// (CN = 1 there: acc[r][1..3] stay unused.)

fn axpyRow(r: u32, a: f32, b: vec4f) {
  acc[r][0] = fma(vec4f(a), b, acc[r][0]);
}

fn axpy4(r: u32, a: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f) {
  acc[r][0] = fma(vec4f(a.x), b0, acc[r][0]);
  acc[r][0] = fma(vec4f(a.y), b1, acc[r][0]);
  acc[r][0] = fma(vec4f(a.z), b2, acc[r][0]);
  acc[r][0] = fma(vec4f(a.w), b3, acc[r][0]);
}

fn storeLaneColumns(m0: u32, n: u32) {
  if (n >= params.N) { return; }
  var b = vec4f(0.0);
  if (HAS_BIAS) { b = vec4f(bias[n], bias[n + 1u], bias[n + 2u], bias[n + 3u]); }
  for (var r = 0u; r < RM; r++) {
    let m = m0 + r;
    if (m < params.M) {
      let v = acc[r][0] + b;
      let o = m * params.N + n;
      store(o, v.x);
      store(o + 1u, v.y);
      store(o + 2u, v.z);
      store(o + 3u, v.w);
    }
  }
}

// nn's B operand at i: as stored, or with SIGN_B as sign(W)·s.
fn rhsAt(i: u32) -> vec4f {
  if (SIGN_B) { return sign(rhs[i]) * params.bScale; }
  return rhs[i];
}

@compute @workgroup_size(8)
fn nn(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let K4 = params.K / 4u;
  let N4 = params.N / 4u;
  let m0 = wg.y * RM;
  let n = wg.x * 32u + 4u * lid.x;
  let aRow = min(m0 + lid.x, params.M - 1u) * K4;
  let bCol = min(n / 4u, N4 - 1u);
  for (var k = 0u; k < K4; k++) {
    let al = lhs[aRow + k];
    let kb = 4u * k * N4 + bCol;
    let b0 = rhsAt(kb);
    let b1 = rhsAt(kb + N4);
    let b2 = rhsAt(kb + 2u * N4);
    let b3 = rhsAt(kb + 3u * N4);
    axpy4(0u, subgroupBroadcast(al, 0u), b0, b1, b2, b3);
    axpy4(1u, subgroupBroadcast(al, 1u), b0, b1, b2, b3);
    axpy4(2u, subgroupBroadcast(al, 2u), b0, b1, b2, b3);
    axpy4(3u, subgroupBroadcast(al, 3u), b0, b1, b2, b3);
    axpy4(4u, subgroupBroadcast(al, 4u), b0, b1, b2, b3);
    axpy4(5u, subgroupBroadcast(al, 5u), b0, b1, b2, b3);
    axpy4(6u, subgroupBroadcast(al, 6u), b0, b1, b2, b3);
    axpy4(7u, subgroupBroadcast(al, 7u), b0, b1, b2, b3);
  }
  storeLaneColumns(m0, n);
}

// One tn step: k-row kk of the 4 loaded this round; rows 0-3 come from lane
// 2·kk, rows 4-7 from lane 2·kk+1.
fn tnStep(lo: vec4f, hi: vec4f, b: vec4f) {
  axpyRow(0u, lo.x, b);
  axpyRow(1u, lo.y, b);
  axpyRow(2u, lo.z, b);
  axpyRow(3u, lo.w, b);
  axpyRow(4u, hi.x, b);
  axpyRow(5u, hi.y, b);
  axpyRow(6u, hi.z, b);
  axpyRow(7u, hi.w, b);
}

@compute @workgroup_size(8)
fn tn(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let M4 = params.M / 4u;
  let N4 = params.N / 4u;
  let m0 = wg.y * RM;
  let n = wg.x * 32u + 4u * lid.x;
  let bCol = min(n / 4u, N4 - 1u);
  // Lane l loads A[k + l/2, m0 + 4·(l%2) ..]: the subgroup covers 8 rows × 4 k.
  let aCol = min(m0 / 4u + (lid.x & 1u), M4 - 1u);
  let kOff = lid.x >> 1u;
  for (var k = 0u; k < params.K; k += 4u) {
    let ka = k + kOff;
    let al = select(vec4f(0.0), lhs[min(ka, params.K - 1u) * M4 + aCol], ka < params.K);
    let b0 = rhs[min(k, params.K - 1u) * N4 + bCol];
    let b1 = select(vec4f(0.0), rhs[min(k + 1u, params.K - 1u) * N4 + bCol], k + 1u < params.K);
    let b2 = select(vec4f(0.0), rhs[min(k + 2u, params.K - 1u) * N4 + bCol], k + 2u < params.K);
    let b3 = select(vec4f(0.0), rhs[min(k + 3u, params.K - 1u) * N4 + bCol], k + 3u < params.K);
    tnStep(subgroupBroadcast(al, 0u), subgroupBroadcast(al, 1u), b0);
    tnStep(subgroupBroadcast(al, 2u), subgroupBroadcast(al, 3u), b1);
    tnStep(subgroupBroadcast(al, 4u), subgroupBroadcast(al, 5u), b2);
    tnStep(subgroupBroadcast(al, 6u), subgroupBroadcast(al, 7u), b3);
  }
  storeLaneColumns(m0, n);
}
