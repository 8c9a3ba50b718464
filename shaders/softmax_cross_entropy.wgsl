// softmax_cross_entropy: per-row loss, gradient and top-1/top-5 hits for
// N×C logits (row-major f32) and i32 targets [N], then a tiny reduction into
// a metrics buffer that training reads back asynchronously every K steps.
// Matches kernels-test/reference/softmax_cross_entropy.ts:
//   loss_n   = lse(row) − logit[t],   lse = max + log Σ exp(x − max)
//   dlogits  = gradScale·(softmax − onehot(t)) / N
//   top-k hit when fewer than k classes have a logit strictly greater than
//   the target's (ties favour the target).
//
// Entries:
//   forward_backward / forward   one workgroup (WG threads) per row: threads
//       stride over the classes; the row max and the "strictly greater" count
//       share pass 1, Σexp is pass 2, forward_backward writes dlogits in pass
//       3. Per-row results go to rows[n] = (loss, top1, top5, invalid).
//   metrics   one workgroup sums rows into metrics[0..4] =
//       (Σ loss, top-1 hits, top-5 hits, samples, invalid targets); with
//       accumulate = 1 it adds to what is there (a window of K steps).
// Targets are validated on the host when the dataset is uploaded; the kernel
// stays memory-safe anyway: a target outside [0, C) reads no logit out of
// range, adds 0 to the loss and the hits, counts as invalid, and its row's
// gradient is softmax/N with no one-hot term.
//
// Test: kernels-test/softmax_cross_entropy.test.ts.

override WG: u32 = 64u;
const WG_METRICS = 256u;

struct Params {
  N: u32,
  C: u32,
  gradScale: f32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> rows: array<vec4f>;
// metrics entry
@group(0) @binding(5) var<storage, read> rowsIn: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> metrics: array<f32>;

var<workgroup> redA: array<f32, WG>;
var<workgroup> redB: array<f32, WG>;
var<workgroup> red4: array<vec4f, WG_METRICS>;

struct RowStats {
  max: f32,
  // 1 / Σ exp(x − max)
  invSum: f32,
}

// Passes 1 and 2 for one row; every thread of the workgroup returns the same
// stats and thread 0 writes rows[row].
fn rowStats(row: u32, lid: u32) -> RowStats {
  let C = params.C;
  let base = row * C;
  let t = targets[row];
  let valid = t >= 0 && u32(t) < C;
  let tl = logits[base + select(0u, u32(t), valid)];

  var m = logits[base];
  var greater = 0.0;
  for (var c = lid; c < C; c += WG) {
    let v = logits[base + c];
    m = max(m, v);
    greater += select(0.0, 1.0, v > tl);
  }
  redA[lid] = m;
  redB[lid] = greater;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      redA[lid] = max(redA[lid], redA[lid + s]);
      redB[lid] += redB[lid + s];
    }
    workgroupBarrier();
  }
  let rowMax = redA[0];
  let rowGreater = redB[0];
  workgroupBarrier();

  var sum = 0.0;
  for (var c = lid; c < C; c += WG) { sum += exp(logits[base + c] - rowMax); }
  redA[lid] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { redA[lid] += redA[lid + s]; }
    workgroupBarrier();
  }
  let total = redA[0];

  if (lid == 0u) {
    // (max − x_t) first: both may be huge, their difference is exact-ish.
    let loss = (rowMax - tl) + log(total);
    let hit = vec2f(select(0.0, 1.0, rowGreater < 1.0), select(0.0, 1.0, rowGreater < 5.0));
    rows[row] = select(vec4f(0.0, 0.0, 0.0, 1.0), vec4f(loss, hit, 0.0), valid);
  }
  return RowStats(rowMax, 1.0 / total);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  _ = rowStats(wg.x, lid);
}

@compute @workgroup_size(WG)
fn forward_backward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let st = rowStats(row, lid);
  let C = params.C;
  let base = row * C;
  let t = targets[row];
  let k = params.gradScale / f32(params.N);
  for (var c = lid; c < C; c += WG) {
    let p = exp(logits[base + c] - st.max) * st.invSum;
    dlogits[base + c] = k * (p - select(0.0, 1.0, i32(c) == t));
  }
}

@compute @workgroup_size(WG_METRICS)
fn reduce_metrics(@builtin(local_invocation_index) lid: u32) {
  var acc = vec4f(0.0);
  for (var n = lid; n < params.N; n += WG_METRICS) { acc += rowsIn[n]; }
  red4[lid] = acc;
  workgroupBarrier();
  for (var s = WG_METRICS / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red4[lid] += red4[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let r = red4[0];
    // (Σ loss, top-1, top-5, samples, invalid); samples counts every row.
    var v = array<f32, 5>(r.x, r.y, r.z, f32(params.N), r.w);
    for (var i = 0u; i < 5u; i++) {
      metrics[i] = select(0.0, metrics[i], params.accumulate != 0u) + v[i];
    }
  }
}
