// sgd: one torch.optim.SGD step over a flat f32 parameter arena, and the
// Kolen–Pollack variant that steps W and its feedback tensor B together from
// the same gradient (LEARNING_RULES.md, KP). The math, per element:
//   d   = g + weightDecay·p
//   buf = firstStep ? d : momentum·buf + (1 − dampening)·d     (only if momentum ≠ 0)
//   d   = nesterov ? d + momentum·buf : buf                     (only if momentum ≠ 0)
//   p  -= lr·d
// exactly kernels-test/reference/sgd.ts. Every hyper-parameter is a uniform,
// so an LR schedule or the first-step flag needs no recompile.
//
// Layout: param, grad and momentum arenas share one layout (element i of each
// belongs to the same weight). A dispatch updates elements [start, start+count)
// of them; the launcher (src/kernels/sgd.ts) covers the arena with a few such
// runs (one per weight-decay setting) and ends with a scalar tail when the
// length is not a multiple of 4.
//
// Entries, WG threads a workgroup: the vec4 entries take one vec4 per thread
// on a 2-D grid (x up to 65535 workgroups, then rows of them): on lavapipe a
// loop in a kernel costs its mask bookkeeping on every trip, and measured
// straight-line code moves ~1.5× the bytes of a grid-stride loop (2.9 vs
// 1.9 GB/s over 11.7 M floats). The scalar tail entries (< 4 elements) keep
// a grid-stride loop:
//   sgd_vec4 / sgd_scalar   p, g, m            (start/count in vec4s / elements)
//   kp_vec4  / kp_scalar    w, b, g, mw, mb    (W and B both take sgdMath with g)
// The vec4 and scalar views of one tensor are distinct variables at distinct
// binding numbers (a runtime-sized array<vec4f> cannot reach a tail of < 4
// floats). With momentum = 0 the momentum bindings are never touched.
//
// Test: kernels-test/sgd.test.ts, kernels-test/feedback_rules.test.ts (KP).

override WG: u32 = 256u;

struct Hyper {
  start: u32,
  count: u32,
  lr: f32,
  momentum: f32,
  dampening: f32,
  weightDecay: f32,
  nesterov: u32,
  firstStep: u32,
}

@group(0) @binding(0) var<uniform> hp: Hyper;

@group(0) @binding(1) var<storage, read_write> p4: array<vec4f>;
@group(0) @binding(2) var<storage, read> g4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> m4: array<vec4f>;

@group(0) @binding(4) var<storage, read_write> p1: array<f32>;
@group(0) @binding(5) var<storage, read> g1: array<f32>;
@group(0) @binding(6) var<storage, read_write> m1: array<f32>;

@group(0) @binding(7) var<storage, read_write> w4: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> b4: array<vec4f>;
@group(0) @binding(9) var<storage, read> kg4: array<vec4f>;
@group(0) @binding(10) var<storage, read_write> mw4: array<vec4f>;
@group(0) @binding(11) var<storage, read_write> mb4: array<vec4f>;

@group(0) @binding(12) var<storage, read_write> w1: array<f32>;
@group(0) @binding(13) var<storage, read_write> b1: array<f32>;
@group(0) @binding(14) var<storage, read> kg1: array<f32>;
@group(0) @binding(15) var<storage, read_write> mw1: array<f32>;
@group(0) @binding(16) var<storage, read_write> mb1: array<f32>;

struct Step {
  p: vec4f,
  buf: vec4f,
}

// The one copy of the update rule; scalar entries run it on lane x.
fn sgdMath(p: vec4f, g: vec4f, bufIn: vec4f) -> Step {
  var d = g + hp.weightDecay * p;
  var buf = bufIn;
  if (hp.momentum != 0.0) {
    if (hp.firstStep != 0u) {
      buf = d;
    } else {
      buf = hp.momentum * bufIn + (1.0 - hp.dampening) * d;
    }
    if (hp.nesterov != 0u) {
      d = d + hp.momentum * buf;
    } else {
      d = buf;
    }
  }
  return Step(p - hp.lr * d, buf);
}

// Momentum buffers are read only when they matter: on the first step buf = d.
fn readsBuf() -> bool {
  return hp.momentum != 0.0 && hp.firstStep == 0u;
}

// The vec4 a thread of a vec4 entry updates, on the 2-D grid.
fn vec4Index(wg: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn sgd_vec4(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = vec4Index(wg, nwg, lid);
  if (i >= hp.count) { return; }
  let j = hp.start + i;
  var m = vec4f(0.0);
  if (readsBuf()) { m = m4[j]; }
  let s = sgdMath(p4[j], g4[j], m);
  p4[j] = s.p;
  if (hp.momentum != 0.0) { m4[j] = s.buf; }
}

@compute @workgroup_size(WG)
fn sgd_scalar(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * WG;
  for (var i = gid.x; i < hp.count; i += stride) {
    let j = hp.start + i;
    var m = 0.0;
    if (readsBuf()) { m = m1[j]; }
    let s = sgdMath(vec4f(p1[j], 0.0, 0.0, 0.0), vec4f(g1[j], 0.0, 0.0, 0.0), vec4f(m, 0.0, 0.0, 0.0));
    p1[j] = s.p.x;
    if (hp.momentum != 0.0) { m1[j] = s.buf.x; }
  }
}

@compute @workgroup_size(WG)
fn kp_vec4(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = vec4Index(wg, nwg, lid);
  if (i >= hp.count) { return; }
  let j = hp.start + i;
  let g = kg4[j];
  var mw = vec4f(0.0);
  var mb = vec4f(0.0);
  if (readsBuf()) {
    mw = mw4[j];
    mb = mb4[j];
  }
  let sw = sgdMath(w4[j], g, mw);
  let sb = sgdMath(b4[j], g, mb);
  w4[j] = sw.p;
  b4[j] = sb.p;
  if (hp.momentum != 0.0) {
    mw4[j] = sw.buf;
    mb4[j] = sb.buf;
  }
}

@compute @workgroup_size(WG)
fn kp_scalar(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * WG;
  for (var i = gid.x; i < hp.count; i += stride) {
    let j = hp.start + i;
    let g = vec4f(kg1[j], 0.0, 0.0, 0.0);
    var mw = 0.0;
    var mb = 0.0;
    if (readsBuf()) {
      mw = mw1[j];
      mb = mb1[j];
    }
    let sw = sgdMath(vec4f(w1[j], 0.0, 0.0, 0.0), g, vec4f(mw, 0.0, 0.0, 0.0));
    let sb = sgdMath(vec4f(b1[j], 0.0, 0.0, 0.0), g, vec4f(mb, 0.0, 0.0, 0.0));
    w1[j] = sw.p.x;
    b1[j] = sb.p.x;
    if (hp.momentum != 0.0) {
      mw1[j] = sw.buf.x;
      mb1[j] = sb.buf.x;
    }
  }
}
