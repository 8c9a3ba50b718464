// matmul_dot4: C[M,N] = A·Bᵀ (+ bias[N]) for A M×K and B N×K, both row-major
// with K % 4 == 0 (the linear forward x·Wᵀ). Shaped for CPU adapters
// (lavapipe): there every storage load is a per-lane gather that costs about
// as much as 30 FMAs, whether it fetches one float or a vec4, so the kernel
// minimises loads per FMA.
//
// A workgroup is one subgroup of SG = 8 lanes and owns an 8×(8·CN) tile of C.
// Per step of 4 along K, lane l loads row m0+l of A (one vec4) and its CN
// columns n0+l+8j of B (CN vec4s); the 8 rows reach every lane by
// subgroupBroadcast (a register shuffle), so 1+CN loads feed 8·CN vec4 FMAs.
// Accumulators are vec4 along K, summed by one dot at the end.
// Napkin math: CN=4 → 5 loads per 32 vec4-FMAs (128 scalar FMAs).
// Rows and columns past M or N are clamped on load and skipped on store.
// Needs the `subgroups` feature with a subgroup size of exactly 8.
//
// Test: kernels-test/linear.test.ts. Time: `nowt bench --kernels`.

enable subgroups;

override HAS_BIAS: bool = false;
const RM = 8u;
const CN = 4u;

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> lhs: array<vec4f>;
@group(0) @binding(2) var<storage, read> rhs: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<private> acc: array<array<vec4f, CN>, RM>;
var<private> bv: array<vec4f, CN>;

fn rowFma(r: u32, ar: vec4f) {
  for (var j = 0u; j < CN; j++) { acc[r][j] = fma(ar, bv[j], acc[r][j]); }
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
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
      if (m < params.M) { out[m * params.N + n] = dot(acc[r][j], vec4f(1.0)) + b; }
    }
  }
}
