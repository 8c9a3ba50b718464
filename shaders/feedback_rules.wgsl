// feedback_rules: the elementwise kernels that make or update feedback
// tensors B (LEARNING_RULES.md; B has W's shape and layout). KP's update is
// the SGD kernel's kp_* entries (shaders/sgd.wgsl), not here.
//
// Layout: W and B are f32 arenas of one layout, or single tensors. Segment
// kernels take a table of u32 (offset, length) pairs, one per layer, and run
// on a (groups, segments) grid: workgroup (g, s) strides over layer s's
// elements from g·WG, groups·WG at a time, so one dispatch covers every layer.
//
// Entries:
//   sign_symmetry    SS: b[i] = sign(w[i])·scales[s] on segment s; sign(0) = 0.
//   rescale_to_norm  WM growth control: b *= ‖W‖/‖B‖ per segment, the norms
//                    read from an alignment sums buffer (shaders/alignment.wgsl:
//                    3 floats per layer ⟨B,W⟩, ‖B‖², ‖W‖²), so no readback;
//                    a layer with ‖B‖ = 0 is left as it is.
// (WM's mirror update is the epilogue of its weight-gradient product:
// ACCUMULATE in the conv and matmul shaders.)
//
// Test: kernels-test/feedback_rules.test.ts.

override WG: u32 = 256u;

struct SegParams {
  groups: u32,
  // rescale_to_norm: layer s reads sums at (firstSlot + s)·3.
  firstSlot: u32,
}

@group(0) @binding(0) var<uniform> seg: SegParams;
@group(0) @binding(1) var<storage, read> segs: array<vec2u>;
@group(0) @binding(2) var<storage, read> scales: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> b: array<f32>;
@group(0) @binding(5) var<storage, read> sums: array<f32>;

@compute @workgroup_size(WG)
fn sign_symmetry(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sg = segs[wg.y];
  let s = scales[wg.y];
  for (var i = wg.x * WG + lid; i < sg.y; i += seg.groups * WG) {
    b[sg.x + i] = sign(w[sg.x + i]) * s;
  }
}

// The same four elements at a time (every segment starts at a multiple of
// 4): a quarter of the loads, which is what costs on a CPU adapter. A last,
// partial quad keeps the elements past the segment's end as they were.
@group(0) @binding(8) var<storage, read> w4: array<vec4f>;
@group(0) @binding(9) var<storage, read_write> b4: array<vec4f>;

@compute @workgroup_size(WG)
fn sign_symmetry4(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sg = segs[wg.y];
  let s = scales[wg.y];
  let base = sg.x / 4u;
  let n4 = (sg.y + 3u) / 4u;
  for (var i = wg.x * WG + lid; i < n4; i += seg.groups * WG) {
    var v = sign(w4[base + i]) * s;
    if (4u * i + 4u > sg.y) {
      v = select(b4[base + i], v, vec4u(0u, 1u, 2u, 3u) < vec4u(sg.y - 4u * i));
    }
    b4[base + i] = v;
  }
}

@compute @workgroup_size(WG)
fn rescale_to_norm(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sg = segs[wg.y];
  let at = (seg.firstSlot + wg.y) * 3u;
  let bb = sums[at + 1u];
  let ww = sums[at + 2u];
  let f = select(1.0, sqrt(ww / bb), bb > 0.0);
  for (var i = wg.x * WG + lid; i < sg.y; i += seg.groups * WG) {
    b[sg.x + i] *= f;
  }
}
