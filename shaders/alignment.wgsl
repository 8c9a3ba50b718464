// alignment: per-layer sums ⟨x,y⟩, ‖x‖², ‖y‖² for the alignment measurements
// of LEARNING_RULES.md (x = B, y = W for the weight angle and norm ratio;
// x = δ_rule, y = δ_bp for the delta angle), every layer in one pass.
//
// Layout: x and y are f32 tensors of one layout (arenas, or one tensor each);
// segs holds u32 (offset, length) pairs, one per layer. Output: sums[(firstSlot
// + s)·3 + k], k = 0 ⟨x,y⟩, 1 ‖x‖², 2 ‖y‖².
//
// Two passes, a fixed tree so results do not depend on scheduling:
//   partial_sums  grid (groups, S): workgroup (g, s) strides over layer s from
//                 g·WG in steps of groups·WG (each thread sums ≤ ~TERMS
//                 elements in f32, the launcher picks groups for that), then
//                 a pairwise tree over its WG threads → partials[(s·groups + g)·3 + k].
//   finalize      grid (S): one workgroup per layer sums its `groups` partials
//                 (strided, then a pairwise tree) → sums.
// Error: each value is a sum of ~TERMS sequential terms plus log2(groups·WG)
// tree levels, so |err| ≲ (TERMS + log2(groups·WG))·ε·Σ|terms|; with the
// launcher's TERMS = 32 that is < 64·2^-24·Σ|terms| ≈ 4e-6·Σ|terms|.
//
// Test: kernels-test/alignment.test.ts.

override WG: u32 = 256u;

struct Params {
  groups: u32,
  firstSlot: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> segs: array<vec2u>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
// finalize
@group(0) @binding(5) var<storage, read> partialsIn: array<f32>;
@group(0) @binding(6) var<storage, read_write> sums: array<f32>;

var<workgroup> red: array<vec4f, WG>;

// Pairwise tree over the workgroup; every thread returns the total.
fn treeSum(v: vec4f, lid: u32) -> vec4f {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  return red[0];
}

@compute @workgroup_size(WG)
fn partial_sums(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sg = segs[wg.y];
  var acc = vec4f(0.0);
  for (var i = wg.x * WG + lid; i < sg.y; i += params.groups * WG) {
    let u = x[sg.x + i];
    let v = y[sg.x + i];
    acc += vec4f(u * v, u * u, v * v, 0.0);
  }
  let t = treeSum(acc, lid);
  if (lid == 0u) {
    let at = (wg.y * params.groups + wg.x) * 3u;
    partials[at] = t.x;
    partials[at + 1u] = t.y;
    partials[at + 2u] = t.z;
  }
}

@compute @workgroup_size(WG)
fn finalize(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  var acc = vec4f(0.0);
  for (var g = lid; g < params.groups; g += WG) {
    let at = (wg.x * params.groups + g) * 3u;
    acc += vec4f(partialsIn[at], partialsIn[at + 1u], partialsIn[at + 2u], 0.0);
  }
  let t = treeSum(acc, lid);
  if (lid == 0u) {
    let at = (params.firstSlot + wg.x) * 3u;
    sums[at] = t.x;
    sums[at + 1u] = t.y;
    sums[at + 2u] = t.z;
  }
}
