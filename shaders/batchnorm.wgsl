// batchnorm: 2-D batch normalisation over the channels of an NCHW tensor,
// PyTorch conventions (biased variance normalises, unbiased variance feeds
// running_var, running = (1 − momentum)·running + momentum·batch).
//
// Layout: x, y, dy, dx, residual are N×C×H×W; per-channel vectors have C
// entries. A channel's m = N·H·W values are numbered j = n·HW + i, so its
// element j sits at (n·C + c)·HW + i.
//
// Entry points (launcher: src/kernels/batchnorm.ts):
//   stats          one workgroup of WG threads per channel. Two passes over the
//                  channel: the sum gives the mean, then the centred
//                  Σ(x − mean)² — never E[x²] − E[x]², which loses everything
//                  to cancellation when |mean| ≫ std. Thread 0 finishes: mean,
//                  invStd and the running statistics.
//   stats_partial  the same two passes per (chunk, channel) for large N·H·W;
//                  writes (chunk mean, chunk M2) partials, C×chunks×2
//                  (chunk s holds elements [s·chunk, min((s+1)·chunk, m))).
//                  A conv forward with STATS writes the same layout, one chunk
//                  per output tile, so a batchnorm after a conv skips this.
//   stats_merge    one workgroup of WG threads per channel, since conv tiles
//                  give thousands of chunks: each thread merges a strided
//                  subset (Chan et al.'s pairwise formula, counts from
//                  chunk_count), the threads' summaries merge in workgroup
//                  memory, then thread 0 does the same finish.
//   *_frozen       the same without touching the running statistics (e.g. a
//                  diagnostic forward pass); separate entry points because a
//                  binding an entry point names must be bound even if unused.
//   apply          plane-wise: y = (x − mean)·(γ·invStd) + β (+ residual) (ReLU).
//                  FROM_VAR reads a variance instead of invStd (eval mode with
//                  running statistics). Centring first keeps the precision
//                  that x·scale + shift loses when |mean| ≫ std.
//   apply4, grad_input4, grad_input_dres4
//                  the same for planes of a multiple of 4: one vec4 per thread,
//                  no loop. On lavapipe, 8×64×32² against 8×64×31×33
//                  (interleaved, medians): apply 5.6 vs 6.5 ms, grad_input_dres
//                  6.9 vs 9.1 ms; the statistics reductions gained nothing
//                  from walking vec4s, so they stay scalar.
//   scale_shift    one thread per channel: scale = γ·invStd, shift = β − mean·scale,
//                  for a conv epilogue that applies y = x·scale + shift.
//   grad_reduce    like stats_partial: per (chunk, channel) Σg and Σg·(x − mean),
//                  where g = dy, or dy·[y > 0] with RELU (y: the fused forward
//                  output). Writes partials, C×chunks×2.
//   grad_merge     one thread per channel: dβ = Σg, dγ = invStd·Σg(x − mean), and
//                  the coefficients of dx = a·g − b − k·(x − mean) as
//                  coef[c] = (mean, a, b, k) with a = γ·invStd, b = a·dβ/m,
//                  k = a·invStd·dγ/m.
//   grad_input     plane-wise: dx from coef; grad_input_dres also writes g, the
//                  gradient of a residual that was added before the ReLU.
// Backward is three dispatches so that no entry point binds more than 8
// storage buffers (the WebGPU default limit).
//
// Plane-wise entries: workgroup (x, c, n) covers EW·PER_THREAD elements of
// plane (n, c); per-channel values are loaded once per thread.
//
// Test: kernels-test/batchnorm.test.ts (the merge of conv partials:
// conv2d_bn_stats.test.ts). Time: `nowt bench --kernels`.

override WG: u32 = 128u; // reductions; a multiple of LEAF
const LEAF = 16u;
override EW: u32 = 64u; // plane-wise entries
override FROM_VAR: bool = false;
override RELU: bool = false;
override RESIDUAL: bool = false;
override PER_THREAD: u32 = 4u; // plane-wise elements per thread, set from the tuning config

struct Reduce {
  C: u32,
  hw: u32,
  m: u32,
  chunk: u32,
  chunks: u32,
  eps: f32,
  momentum: f32,
}

struct Plane {
  C: u32,
  hw: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> rp: Reduce;
@group(0) @binding(1) var<uniform> pp: Plane;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> inv_std: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(7) var<storage, read_write> partial: array<f32>;
@group(0) @binding(8) var<storage, read> partial_in: array<f32>;
@group(0) @binding(9) var<storage, read> center: array<f32>; // mean (or running mean)
@group(0) @binding(10) var<storage, read> spread: array<f32>; // invStd, or a variance with FROM_VAR
@group(0) @binding(11) var<storage, read> gamma: array<f32>;
@group(0) @binding(12) var<storage, read> beta: array<f32>;
@group(0) @binding(13) var<storage, read> residual: array<f32>;
@group(0) @binding(14) var<storage, read_write> y: array<f32>;
@group(0) @binding(15) var<storage, read_write> scale: array<f32>;
@group(0) @binding(16) var<storage, read_write> shift: array<f32>;
@group(0) @binding(17) var<storage, read> dy: array<f32>;
@group(0) @binding(18) var<storage, read> y_fwd: array<f32>;
@group(0) @binding(19) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(20) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(21) var<storage, read_write> coef: array<f32>;
@group(0) @binding(22) var<storage, read> coef_in: array<f32>;
@group(0) @binding(23) var<storage, read_write> dx: array<f32>;
@group(0) @binding(24) var<storage, read_write> dresidual: array<f32>;
// The *4 entries' vec4 views (an entry must bind every variable it names).
@group(0) @binding(25) var<storage, read> x4: array<vec4f>;
@group(0) @binding(26) var<storage, read> residual4: array<vec4f>;
@group(0) @binding(27) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(28) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(29) var<storage, read> y_fwd4: array<vec4f>;
@group(0) @binding(30) var<storage, read_write> dx4: array<vec4f>;
@group(0) @binding(31) var<storage, read_write> dresidual4: array<vec4f>;

var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;
var<workgroup> part_a: array<f32, WG / LEAF>;
var<workgroup> part_b: array<f32, WG / LEAF>;
// stats_merge's third value (M2) of a (count, mean, M2) summary.
var<workgroup> red_c: array<f32, WG>;
var<workgroup> part_c: array<f32, WG / LEAF>;

// A thread walks elements j, j + WG, j + 2·WG, ... of channel c; element j
// sits at (n·C + c)·HW + i with n = j / HW, i = j % HW. llvmpipe scalarises
// integer division, so divide once and then step: WG = q·HW + r moves the
// address by q·C·HW + r, plus (C − 1)·HW more when i wraps past the plane.
struct Walk {
  a: u32, // address
  i: u32, // index within the plane
  jump: u32,
  r: u32,
  wrap: u32,
}

fn walk_start(c: u32, j: u32) -> Walk {
  let n = j / rp.hw;
  let i = j - n * rp.hw;
  let q = WG / rp.hw;
  let r = WG - q * rp.hw;
  return Walk((n * rp.C + c) * rp.hw + i, i, q * rp.C * rp.hw + r, r, (rp.C - 1u) * rp.hw);
}

fn walk_step(w: ptr<function, Walk>) {
  (*w).i += (*w).r;
  (*w).a += (*w).jump;
  if ((*w).i >= rp.hw) {
    (*w).i -= rp.hw;
    (*w).a += (*w).wrap;
  }
}

// Workgroup sums of two values; every thread gets both totals. Two levels
// (LEAF values per thread, then WG / LEAF partials) instead of a log₂(WG)
// tree: each barrier is costly on llvmpipe. No trailing barrier is needed: a
// later call writes red_* only after every thread has passed this call's
// second barrier, and part_* only after its own first barrier.
fn sum2(a: f32, b: f32, li: u32) -> vec2f {
  red_a[li] = a;
  red_b[li] = b;
  workgroupBarrier();
  if (li < WG / LEAF) {
    var s = vec2f(0.0);
    for (var k = li * LEAF; k < (li + 1u) * LEAF; k++) { s += vec2f(red_a[k], red_b[k]); }
    part_a[li] = s.x;
    part_b[li] = s.y;
  }
  workgroupBarrier();
  var t = vec2f(0.0);
  for (var k = 0u; k < WG / LEAF; k++) { t += vec2f(part_a[k], part_b[k]); }
  return t;
}

fn chunk_count(s: u32) -> u32 {
  return min(rp.chunk, rp.m - s * rp.chunk);
}

fn finish_stats(c: u32, r: vec2f) {
  mean[c] = r.x;
  inv_std[c] = 1.0 / sqrt(r.y / f32(rp.m) + rp.eps);
}

fn update_running(c: u32, r: vec2f) {
  let k = rp.momentum;
  running_mean[c] = (1.0 - k) * running_mean[c] + k * r.x;
  running_var[c] = (1.0 - k) * running_var[c] + k * (r.y / f32(rp.m - 1u));
}

// (mean, M2) of chunk s of channel c: two passes, so M2 is centred. Chunk 0
// with chunk = m is the whole channel.
fn chunk_stats(c: u32, s: u32, li: u32) -> vec2f {
  let j0 = s * rp.chunk;
  let j1 = j0 + chunk_count(s);
  var acc = 0.0;
  var w = walk_start(c, j0 + li);
  for (var j = j0 + li; j < j1; j += WG) {
    acc += x[w.a];
    walk_step(&w);
  }
  let mu = sum2(acc, 0.0, li).x / f32(j1 - j0);
  var ss = 0.0;
  w = walk_start(c, j0 + li);
  for (var j = j0 + li; j < j1; j += WG) {
    let d = x[w.a] - mu;
    ss = fma(d, d, ss);
    walk_step(&w);
  }
  return vec2f(mu, sum2(ss, 0.0, li).x);
}

@compute @workgroup_size(WG)
fn stats(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = chunk_stats(wg.y, 0u, li);
  if (li == 0u) {
    finish_stats(wg.y, r);
    update_running(wg.y, r);
  }
}

@compute @workgroup_size(WG)
fn stats_frozen(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = chunk_stats(wg.y, 0u, li);
  if (li == 0u) { finish_stats(wg.y, r); }
}

@compute @workgroup_size(WG)
fn stats_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = chunk_stats(wg.y, wg.x, li);
  if (li == 0u) {
    let p = 2u * (wg.y * rp.chunks + wg.x);
    partial[p] = r.x;
    partial[p + 1u] = r.y;
  }
}

// Chan et al.'s merge of two (count, mean, M2) summaries; an empty b leaves a as is.
fn chan(a: vec3f, b: vec3f) -> vec3f {
  if (b.x == 0.0) { return a; }
  let n = a.x + b.x;
  let d = b.y - a.y;
  let f = b.x / n;
  return vec3f(n, fma(d, f, a.y), a.z + b.z + d * d * (a.x * f));
}

// (mean, M2) of channel c from its partials, valid in thread 0: each thread
// merges chunks li, li + WG, ... (a channel can have tens of thousands of
// conv-tile partials, too many for one thread), then the threads' summaries
// merge in two levels as in sum2 (few barriers).
fn merged(c: u32, li: u32) -> vec2f {
  var t = vec3f(0.0);
  for (var s = li; s < rp.chunks; s += WG) {
    let p = 2u * (c * rp.chunks + s);
    t = chan(t, vec3f(f32(chunk_count(s)), partial_in[p], partial_in[p + 1u]));
  }
  red_a[li] = t.x;
  red_b[li] = t.y;
  red_c[li] = t.z;
  workgroupBarrier();
  if (li < WG / LEAF) {
    var u = vec3f(0.0);
    for (var k = li * LEAF; k < (li + 1u) * LEAF; k++) { u = chan(u, vec3f(red_a[k], red_b[k], red_c[k])); }
    part_a[li] = u.x;
    part_b[li] = u.y;
    part_c[li] = u.z;
  }
  workgroupBarrier();
  var v = vec3f(0.0);
  if (li == 0u) {
    for (var k = 0u; k < WG / LEAF; k++) { v = chan(v, vec3f(part_a[k], part_b[k], part_c[k])); }
  }
  return v.yz;
}

@compute @workgroup_size(WG)
fn stats_merge(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = merged(wg.y, li);
  if (li == 0u) {
    finish_stats(wg.y, r);
    update_running(wg.y, r);
  }
}

@compute @workgroup_size(WG)
fn stats_merge_frozen(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = merged(wg.y, li);
  if (li == 0u) { finish_stats(wg.y, r); }
}

fn channel_scale(c: u32) -> f32 {
  var k = spread[c];
  if (FROM_VAR) { k = 1.0 / sqrt(k + pp.eps); }
  return gamma[c] * k;
}

@compute @workgroup_size(EW)
fn apply(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.y;
  let base = (wg.z * pp.C + c) * pp.hw;
  let mu = center[c];
  let k = channel_scale(c);
  let b = beta[c];
  let i0 = wg.x * EW * PER_THREAD + li;
  for (var r = 0u; r < PER_THREAD; r++) {
    let i = i0 + r * EW;
    if (i < pp.hw) {
      var v = fma(x[base + i] - mu, k, b);
      if (RESIDUAL) { v += residual[base + i]; }
      if (RELU) { v = max(v, 0.0); }
      y[base + i] = v;
    }
  }
}

// apply for planes of a multiple of 4 elements: one vec4 per thread and no
// loop (on lavapipe every loop trip pays its mask bookkeeping, and a vec4
// load costs what a scalar one does).
@compute @workgroup_size(EW)
fn apply4(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.y;
  let hw4 = pp.hw / 4u;
  let i = wg.x * EW + li;
  if (i >= hw4) { return; }
  let at = (wg.z * pp.C + c) * hw4 + i;
  var v = fma(x4[at] - vec4f(center[c]), vec4f(channel_scale(c)), vec4f(beta[c]));
  if (RESIDUAL) { v += residual4[at]; }
  if (RELU) { v = max(v, vec4f(0.0)); }
  y4[at] = v;
}

@compute @workgroup_size(EW)
fn scale_shift(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= pp.C) { return; }
  let k = channel_scale(c);
  scale[c] = k;
  shift[c] = beta[c] - center[c] * k;
}

fn masked_dy(a: u32) -> f32 {
  if (RELU) { return select(0.0, dy[a], y_fwd[a] > 0.0); }
  return dy[a];
}

@compute @workgroup_size(WG)
fn grad_reduce(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.y;
  let s = wg.x;
  let j0 = s * rp.chunk;
  let j1 = j0 + chunk_count(s);
  let mu = center[c];
  var sg = 0.0;
  var sgx = 0.0;
  var w = walk_start(c, j0 + li);
  for (var j = j0 + li; j < j1; j += WG) {
    let g = masked_dy(w.a);
    sg += g;
    sgx = fma(g, x[w.a] - mu, sgx);
    walk_step(&w);
  }
  let t = sum2(sg, sgx, li);
  if (li == 0u) {
    partial[2u * (c * rp.chunks + s)] = t.x;
    partial[2u * (c * rp.chunks + s) + 1u] = t.y;
  }
}

@compute @workgroup_size(WG)
fn grad_merge(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= rp.C) { return; }
  var sg = 0.0;
  var sgx = 0.0;
  for (var s = 0u; s < rp.chunks; s++) {
    sg += partial_in[2u * (c * rp.chunks + s)];
    sgx += partial_in[2u * (c * rp.chunks + s) + 1u];
  }
  let is = spread[c];
  let dg = sgx * is;
  dbeta[c] = sg;
  dgamma[c] = dg;
  let a = gamma[c] * is;
  let m = f32(rp.m);
  coef[4u * c] = center[c];
  coef[4u * c + 1u] = a;
  coef[4u * c + 2u] = a * sg / m;
  coef[4u * c + 3u] = a * is * dg / m;
}

// Writes dx at element e of a plane with coefficients q = (mean, a, b, k); returns g.
fn dx_at(e: u32, q: vec4f) -> f32 {
  let g = masked_dy(e);
  dx[e] = fma(q.y, g, -fma(q.w, x[e] - q.x, q.z));
  return g;
}

fn coefs(c: u32) -> vec4f {
  return vec4f(coef_in[4u * c], coef_in[4u * c + 1u], coef_in[4u * c + 2u], coef_in[4u * c + 3u]);
}

@compute @workgroup_size(EW)
fn grad_input(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let base = (wg.z * pp.C + wg.y) * pp.hw;
  let q = coefs(wg.y);
  let i0 = wg.x * EW * PER_THREAD + li;
  for (var r = 0u; r < PER_THREAD; r++) {
    let i = i0 + r * EW;
    if (i < pp.hw) { dx_at(base + i, q); }
  }
}

@compute @workgroup_size(EW)
fn grad_input_dres(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let base = (wg.z * pp.C + wg.y) * pp.hw;
  let q = coefs(wg.y);
  let i0 = wg.x * EW * PER_THREAD + li;
  for (var r = 0u; r < PER_THREAD; r++) {
    let i = i0 + r * EW;
    if (i < pp.hw) { dresidual[base + i] = dx_at(base + i, q); }
  }
}

// grad_input and grad_input_dres for planes of a multiple of 4, as apply4.
fn dx_at4(e: u32, q: vec4f) -> vec4f {
  var g = dy4[e];
  if (RELU) { g = select(vec4f(0.0), g, y_fwd4[e] > vec4f(0.0)); }
  dx4[e] = fma(vec4f(q.y), g, -fma(vec4f(q.w), x4[e] - vec4f(q.x), vec4f(q.z)));
  return g;
}

fn plane_vec4(wg: vec3u, li: u32) -> u32 {
  let i = wg.x * EW + li;
  return select(0xffffffffu, (wg.z * pp.C + wg.y) * (pp.hw / 4u) + i, i < pp.hw / 4u);
}

@compute @workgroup_size(EW)
fn grad_input4(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let e = plane_vec4(wg, li);
  if (e == 0xffffffffu) { return; }
  dx_at4(e, coefs(wg.y));
}

@compute @workgroup_size(EW)
fn grad_input_dres4(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let e = plane_vec4(wg, li);
  if (e == 0xffffffffu) { return; }
  dresidual4[e] = dx_at4(e, coefs(wg.y));
}
