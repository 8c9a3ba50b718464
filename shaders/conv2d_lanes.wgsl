// conv2d_lanes: the conv2d family (forward with its epilogue, feedback, weight
// gradient) for CPU adapters (lavapipe); same maths and layouts as
// conv2d_forward.wgsl, conv2d_feedback.wgsl and conv2d_weight_grad.wgsl.
//
// Why this shape: lavapipe runs a workgroup of 8 invocations as one 8-wide
// SIMD vector. Every storage load inside a loop is a per-lane gather with a
// bounds check (~30 FMAs), even when its index is the same in every lane
// (seen in Mesa 25.0's generated code for a first, uniform-index version),
// while subgroupBroadcast from a constant lane is a register shuffle. So each
// entry is an implicit GEMM whose row operand (weights, B, or dy) is loaded
// one row per lane and broadcast, and whose column operand is gathered, each
// lane owning 4 columns: per reduction step RG + 4 gathers feed 32·RG FMAs
// (RG row groups of 8). Each gallivm loop level costs mask bookkeeping, so
// the reduction is walked with as few nested loops as the shape allows (1×1
// and one-tap phases flat, 3×3 forward unrolled, feedback taps flattened)
// and with no index decoding inside.
//
// Entries (workgroup = 8 lanes, 32 columns × 8·RG rows of the output GEMM):
//   forward      Y[o, p] = Σ_{c,ky,kx} w[o,c,ky,kx] · x[n,c,oy·S−P+ky, ox·S−P+kx]
//                rows o, columns p = (n, oy, ox) (lane l owns p0+4l..p0+4l+3),
//                then bias / bn scale+shift / residual / ReLU as conv2d_forward.
//                With STATS it also writes each row's (mean, M2) over the
//                workgroup's 32 columns (subgroupAdd), batchnorm's partials
//                layout, so a following training batchnorm needs no pass
//                over y of its own (it only merges).
//   feedback     dx over one stride phase (workgroup_id.z), as conv2d_feedback:
//                rows c, columns = the phase's input pixels,
//                reduction over (o, ty, tx) with ky = ry + S·ty.
//   weight_grad  dW[o, k] = Σ_p dy[n,o,oy,ox] · X[k, p]: rows o,
//                columns k = (c, ky, kx) (lane l owns k0+4l..), reduction over
//                the output pixels of this split (workgroup_id.z): its range of
//                image rows (n, oy), walked in lock step by the lanes.
//                Writes dW, or partial dW at split·O·K (the launcher then adds
//                the splits with conv2d_weight_grad.wgsl's reduce_splits);
//                with ACCUMULATE (one split) blends into dW: alpha·sum + beta·dW.
// Columns past the end are clamped on load and skipped on store; rows past
// O (or C) are clamped on load and skipped on store.
//
// Variants (override constants): RG (1, 2 or 4 row groups: fewer for layers
// with few rows), the forward epilogue (HAS_BIAS, HAS_BN, HAS_RESIDUAL, RELU),
// K3X3 (forward 3×3 unrolled), STATS (forward writes batchnorm statistics
// partials) and SIGN_B (feedback reads W as sign(W)·s). Sizes, kernel and stride are uniforms.
// Needs the `subgroups` feature with a subgroup size of exactly 8
// (src/kernels/conv2d.ts checks).
//
// Napkin math: RG = 4: 8 gathers (~240 FMA-equivalents) per 128 FMAs, so
// ~35% of the FMA peak at best; measured 4–6 GFLOP/s on ResNet-18's 3×3
// layers (probe peak 11–19 GFLOP/s with the machine's load).
//
// Test: npx uvu -r tsx kernels-test "conv2d(_bn_stats)?\.test\.ts$" (every
// case runs on both variants; _bn_stats covers STATS).
// Time: nowt bench --kernels --sizes 256 --convs resnet18.

enable subgroups;

override HAS_BIAS: bool = false;
override HAS_BN: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;
/** forward: the kernel is 3×3 (its taps unrolled; a separate pipeline, so others do not carry that code). */
override K3X3: bool = false;
/** Row groups of 8 (one per lane) per workgroup: 1, 2 or 4; fewer for layers with few rows. */
override RG: u32 = 4u;
/** feedback: lhs holds W, read as B = sign(W)·bScale (sign symmetry derives B on load, no pass of its own). */
override SIGN_B: bool = false;
/** forward: also write per-tile batchnorm statistics partials of y (rowStats). */
override STATS: bool = false;
/** weight_grad: blend into dW (dW ← alpha·sum + beta·dW), WM's mirror update done where corr is made. */
override ACCUMULATE: bool = false;
/** Accumulator rows: the largest block. */
const OB = 32u;
/** Columns per workgroup: 8 lanes × 4 (set by the launcher from its tuning config, which owns the number). */
override TN: u32 = 32u;

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
  /** forward: N·OH·OW; weight_grad: C·KH·KW */
  cols: u32,
  /** weight_grad: image rows (n, oy) per split */
  chunk: u32,
  /** 1/(OH·OW), 1/OW (forward) or 1/(KH·KW), 1/KW, 1/OH (weight_grad), as f32 for udiv */
  inv0: f32,
  inv1: f32,
  inv2: f32,
  /** feedback with SIGN_B: the scale s of B = sign(W)·s */
  bScale: f32,
  /** weight_grad with ACCUMULATE (one split): dW ← alpha·sum + beta·dW */
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rhs: array<f32>;
@group(0) @binding(2) var<storage, read> lhs: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> bn_scale: array<f32>;
@group(0) @binding(5) var<storage, read> bn_shift: array<f32>;
@group(0) @binding(6) var<storage, read> residual: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
/** forward with STATS: (mean, M2) per (output channel, column block of TN), O × chunks × 2; chunks = num_workgroups.x. */
@group(0) @binding(8) var<storage, read_write> stats: array<f32>;

//#include lib/udiv

var<private> acc: array<vec4f, OB>;
// 3×3 forward: each tap's gather index (at c = 0) and in-image mask, per lane column.
var<private> tapAt: array<vec4u, 9>;
var<private> tapOk: array<vec4<bool>, 9>;

// 4 gathered values; lanes where ok is false read index 0 and get 0.
fn gather4(idx: vec4u, ok: vec4<bool>) -> vec4f {
  let i = select(vec4u(0u), idx, ok);
  return select(vec4f(0.0), vec4f(rhs[i.x], rhs[i.y], rhs[i.z], rhs[i.w]), ok);
}

// acc[8g + j] += (lane j's wv) · v for j < 8: lane j loaded row 8g + j of the block.
fn rank8(g: u32, wv: f32, v: vec4f) {
  // subgroupBroadcast wants a constant lane, hence one line per lane.
  acc[8u * g] = fma(vec4f(subgroupBroadcast(wv, 0u)), v, acc[8u * g]);
  acc[8u * g + 1u] = fma(vec4f(subgroupBroadcast(wv, 1u)), v, acc[8u * g + 1u]);
  acc[8u * g + 2u] = fma(vec4f(subgroupBroadcast(wv, 2u)), v, acc[8u * g + 2u]);
  acc[8u * g + 3u] = fma(vec4f(subgroupBroadcast(wv, 3u)), v, acc[8u * g + 3u]);
  acc[8u * g + 4u] = fma(vec4f(subgroupBroadcast(wv, 4u)), v, acc[8u * g + 4u]);
  acc[8u * g + 5u] = fma(vec4f(subgroupBroadcast(wv, 5u)), v, acc[8u * g + 5u]);
  acc[8u * g + 6u] = fma(vec4f(subgroupBroadcast(wv, 6u)), v, acc[8u * g + 6u]);
  acc[8u * g + 7u] = fma(vec4f(subgroupBroadcast(wv, 7u)), v, acc[8u * g + 7u]);
}

// The row operand at i: as stored, or with SIGN_B as sign(W)·s.
fn lhsAt(i: u32) -> f32 {
  if (SIGN_B) { return sign(lhs[i]) * params.bScale; }
  return lhs[i];
}

// One reduction step: lane l loads lhs[wRow[g] + k] (row 8g + l of the block) for the OB rows.
fn step(v: vec4f, wRow: vec4u, k: u32) {
  rank8(0u, lhsAt(wRow.x + k), v);
  if (RG > 1u) { rank8(1u, lhsAt(wRow.y + k), v); }
  if (RG > 2u) {
    rank8(2u, lhsAt(wRow.z + k), v);
    rank8(3u, lhsAt(wRow.w + k), v);
  }
}

// forward with STATS: (mean, M2) of row o's written values v over this
// workgroup's columns (column block s), at stats[2·(o·chunks + s)]: the
// layout of batchnorm.wgsl's stats_partial, which stats_merge merges. Two
// passes over the registers, so M2 is centred (E[v²] − E[v]² cancels when
// |mean| ≫ std); columns past the end (ok false) are left out.
fn rowStats(v: vec4f, ok: vec4<bool>, o: u32, s: u32, chunks: u32, lane: u32) {
  let count = f32(min(TN, params.cols - s * TN));
  let mu = subgroupAdd(dot(select(vec4f(0.0), v, ok), vec4f(1.0))) / count;
  let d = select(vec4f(0.0), v - mu, ok);
  let m2 = subgroupAdd(dot(d, d));
  if (lane == 0u) {
    stats[2u * (o * chunks + s)] = mu;
    stats[2u * (o * chunks + s) + 1u] = m2;
  }
}

@compute @workgroup_size(8)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let C = params.C;
  let H = params.H;
  let W = params.W;
  let KH = params.KH;
  let KW = params.KW;
  let K = C * KH * KW;
  let HW = H * W;
  let OHW = params.OH * params.OW;
  let o0 = wg.y * 8u * RG;
  let oLast = min(8u * RG, params.O - o0) - 1u;
  let wRow = min(vec4u(o0 + lid.x) + vec4u(0u, 8u, 16u, 24u), vec4u(params.O - 1u)) * K;

  var xBase: vec4u;
  var iy0: vec4i;
  var ix0: vec4i;
  for (var e = 0u; e < 4u; e++) {
    let p = wg.x * TN + 4u * lid.x + e;
    let pc = min(p, params.cols - 1u);
    let n = udiv(pc, OHW, params.inv0);
    let pix = pc - n * OHW;
    let oy = udiv(pix, params.OW, params.inv1);
    xBase[e] = n * C * HW;
    // A column past the end gets a window far outside the image, so it reads zeros.
    iy0[e] = select(-0x40000000, i32(oy * params.stride) - i32(params.pad), p < params.cols);
    ix0[e] = i32((pix - oy * params.OW) * params.stride) - i32(params.pad);
  }

  if (KH * KW == 1u) {
    // 1×1 kernels: one flat loop (each gallivm loop level costs mask bookkeeping).
    let ok = (vec4u(iy0) < vec4u(H)) & (vec4u(ix0) < vec4u(W));
    let pix = xBase + vec4u(iy0) * W + vec4u(ix0);
    for (var c = 0u; c < C; c++) { step(gather4(pix + vec4u(c * HW), ok), wRow, c); }
  } else if (K3X3) {
    // 3×3: the 9 taps unrolled around one loop over c, their offsets and masks hoisted.
    for (var t = 0u; t < 9u; t++) {
      let iy = iy0 + vec4i(i32(t / 3u));
      let ix = ix0 + vec4i(i32(t % 3u));
      tapOk[t] = (vec4u(iy) < vec4u(H)) & (vec4u(ix) < vec4u(W));
      tapAt[t] = xBase + vec4u(iy) * W + vec4u(ix);
    }
    for (var c = 0u; c < C; c++) {
      let xc = vec4u(c * HW);
      let k = 9u * c;
      step(gather4(tapAt[0] + xc, tapOk[0]), wRow, k);
      step(gather4(tapAt[1] + xc, tapOk[1]), wRow, k + 1u);
      step(gather4(tapAt[2] + xc, tapOk[2]), wRow, k + 2u);
      step(gather4(tapAt[3] + xc, tapOk[3]), wRow, k + 3u);
      step(gather4(tapAt[4] + xc, tapOk[4]), wRow, k + 4u);
      step(gather4(tapAt[5] + xc, tapOk[5]), wRow, k + 5u);
      step(gather4(tapAt[6] + xc, tapOk[6]), wRow, k + 6u);
      step(gather4(tapAt[7] + xc, tapOk[7]), wRow, k + 7u);
      step(gather4(tapAt[8] + xc, tapOk[8]), wRow, k + 8u);
    }
  } else {
    for (var c = 0u; c < C; c++) {
      let xc = xBase + vec4u(c * HW);
      for (var ky = 0u; ky < KH; ky++) {
        let iy = iy0 + vec4i(i32(ky));
        let rowOk = vec4u(iy) < vec4u(H);
        let rowBase = xc + vec4u(iy) * W;
        for (var kx = 0u; kx < KW; kx++) {
          let ix = ix0 + vec4i(i32(kx));
          let v = gather4(rowBase + vec4u(ix), rowOk & (vec4u(ix) < vec4u(W)));
          step(v, wRow, (c * KH + ky) * KW + kx);
        }
      }
    }
  }

  // The epilogue a row at a time: the row's per-channel values load once for
  // the lane's 4 columns, and with STATS the row's statistics come from the
  // values just written, still in registers (no write-back into acc).
  let p0 = wg.x * TN + 4u * lid.x;
  let ok = (vec4u(p0) + vec4u(0u, 1u, 2u, 3u)) < vec4u(params.cols);
  var yAt: vec4u;
  for (var e = 0u; e < 4u; e++) {
    let p = min(p0 + e, params.cols - 1u);
    let n = udiv(p, OHW, params.inv0);
    yAt[e] = n * params.O * OHW + p - n * OHW;
  }
  for (var r = 0u; r <= oLast; r++) {
    let o = o0 + r;
    var v = acc[r];
    if (HAS_BIAS) { v += vec4f(bias[o]); }
    if (HAS_BN) { v = fma(v, vec4f(bn_scale[o]), vec4f(bn_shift[o])); }
    let i = yAt + vec4u(o * OHW);
    if (HAS_RESIDUAL) {
      let ri = select(vec4u(0u), i, ok);
      v += vec4f(residual[ri.x], residual[ri.y], residual[ri.z], residual[ri.w]);
    }
    if (RELU) { v = max(v, vec4f(0.0)); }
    for (var e = 0u; e < 4u; e++) {
      if (ok[e]) { out[i[e]] = v[e]; }
    }
    if (STATS) { rowStats(v, ok, o, wg.x, nwg.x, lid.x); }
  }
}

@compute @workgroup_size(8)
fn feedback(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let C = params.C;
  let H = params.H;
  let W = params.W;
  let KH = params.KH;
  let KW = params.KW;
  let KHW = KH * KW;
  let OHW = params.OH * params.OW;
  let S = params.stride;
  let c0 = wg.y * 8u * RG;
  let cLast = min(8u * RG, C - c0) - 1u;

  // This workgroup's phase, as in conv2d_feedback.wgsl: input pixels with
  // (iy+P) mod S = ry, (ix+P) mod S = rx meet the taps ky = ry + S·ty, kx = rx + S·tx.
  let invS = 1.0 / f32(S);
  let ry = udiv(wg.z, S, invS);
  let rx = wg.z - ry * S;
  let TX = select(0u, udiv(KW - rx + S - 1u, S, invS), rx < KW);
  let TY = select(0u, udiv(KH - ry + S - 1u, S, invS), ry < KH);
  let padS = params.pad - udiv(params.pad, S, invS) * S;
  let iyS = select(ry + S - padS, ry - padS, ry >= padS);
  let ixS = select(rx + S - padS, rx - padS, rx >= padS);
  let Hy = select(0u, udiv(H - iyS + S - 1u, S, invS), iyS < H);
  let Wx = select(0u, udiv(W - ixS + S - 1u, S, invS), ixS < W);
  let HWp = Hy * Wx;
  let Pp = params.N * HWp;
  let p0 = wg.x * TN + 4u * lid.x;
  // Uniform: the whole workgroup leaves together.
  if (wg.x * TN >= Pp) { return; }
  let qy0 = udiv(iyS + params.pad - ry, S, invS);
  let qx0 = udiv(ixS + params.pad - rx, S, invS);
  let invHWp = 1.0 / f32(max(HWp, 1u));
  let invWx = 1.0 / f32(max(Wx, 1u));

  var dyBase: vec4u;
  var qy: vec4i;
  var qx: vec4i;
  for (var e = 0u; e < 4u; e++) {
    let p = p0 + e;
    let pc = min(p, Pp - 1u);
    let n = udiv(pc, HWp, invHWp);
    let u = udiv(pc - n * HWp, Wx, invWx);
    dyBase[e] = n * params.O * OHW;
    // A column past the phase gets windows far outside dy, so it reads zeros.
    qy[e] = select(-0x40000000, i32(qy0 + u), p < Pp);
    qx[e] = i32(qx0 + pc - n * HWp - u * Wx);
  }

  // Lane l reads B[o, c0 + 8g + l, ky, kx] for row group g.
  let bRow = min(vec4u(c0 + lid.x) + vec4u(0u, 8u, 16u, 24u), vec4u(C - 1u)) * KHW;
  if (TY * TX == 1u) {
    // One tap in this phase (1×1 kernels, or kernels no larger than the stride): one flat loop.
    let ok = (vec4u(qy) < vec4u(params.OH)) & (vec4u(qx) < vec4u(params.OW));
    let pix = dyBase + vec4u(qy) * params.OW + vec4u(qx);
    for (var o = 0u; o < params.O; o++) { step(gather4(pix + vec4u(o * OHW), ok), bRow, o * C * KHW + ry * KW + rx); }
  } else if (TY * TX > 1u) {
    // The taps (ty, tx) as one flat loop with incremental counters: one loop level fewer.
    let T = TY * TX;
    for (var o = 0u; o < params.O; o++) {
      let dyo = dyBase + vec4u(o * OHW);
      let bo = o * C * KHW + ry * KW + rx;
      var ty = 0u;
      var tx = 0u;
      for (var t = 0u; t < T; t++) {
        let oy = qy - vec4i(i32(ty));
        let ox = qx - vec4i(i32(tx));
        let ok = (vec4u(oy) < vec4u(params.OH)) & (vec4u(ox) < vec4u(params.OW));
        step(gather4(dyo + vec4u(oy) * params.OW + vec4u(ox), ok), bRow, bo + S * (ty * KW + tx));
        tx++;
        if (tx == TX) {
          tx = 0u;
          ty++;
        }
      }
    }
  }

  for (var e = 0u; e < 4u; e++) {
    let p = p0 + e;
    if (p >= Pp) { break; }
    let n = udiv(p, HWp, invHWp);
    let u = udiv(p - n * HWp, Wx, invWx);
    let iy = iyS + S * u;
    let ix = ixS + S * (p - n * HWp - u * Wx);
    let base = n * C * H * W + iy * W + ix;
    for (var r = 0u; r <= cLast; r++) { out[base + (c0 + r) * H * W] = acc[r][e]; }
  }
}

@compute @workgroup_size(8)
fn weight_grad(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let C = params.C;
  let H = params.H;
  let W = params.W;
  let O = params.O;
  let OH = params.OH;
  let OW = params.OW;
  let K = params.cols;
  let HW = H * W;
  let OHW = OH * OW;
  let S = params.stride;
  let o0 = wg.y * 8u * RG;
  let oLast = min(8u * RG, O - o0) - 1u;
  let k0 = wg.x * TN + 4u * lid.x;

  // The lane's 4 columns k = (c, ky, kx), decoded once.
  var xOff: vec4u;
  var ky: vec4i;
  var kx: vec4i;
  for (var e = 0u; e < 4u; e++) {
    let k = k0 + e;
    let kc = min(k, K - 1u);
    let c = udiv(kc, params.KH * params.KW, params.inv0);
    let t = kc - c * params.KH * params.KW;
    let y = udiv(t, params.KW, params.inv1);
    xOff[e] = c * HW;
    // A column past K gets a tap far outside the image, so it reads zeros.
    ky[e] = select(-0x40000000, i32(y) - i32(params.pad), k < K);
    kx[e] = i32(t - y * params.KW) - i32(params.pad);
  }

  // Lane l reads dy[n, o0 + 8g + l, oy, ox] for row group g.
  let dyRow = min(vec4u(o0 + lid.x) + vec4u(0u, 8u, 16u, 24u), vec4u(O - 1u)) * OHW;
  // This split's image rows (n, oy).
  let rEnd = min(params.N * OH, (wg.z + 1u) * params.chunk);
  for (var r = wg.z * params.chunk; r < rEnd; r++) {
    let n = udiv(r, OH, params.inv2);
    let oy = r - n * OH;
    let iy = vec4i(i32(oy * S)) + ky;
    let rowOk = vec4u(iy) < vec4u(H);
    let rowBase = vec4u(n * C * HW) + xOff + vec4u(iy) * W;
    let dyPix = n * O * OHW + oy * OW;
    for (var ox = 0u; ox < OW; ox++) {
      let ix = vec4i(i32(ox * S)) + kx;
      let v = gather4(rowBase + vec4u(ix), rowOk & (vec4u(ix) < vec4u(W)));
      step(v, dyRow, dyPix + ox);
    }
  }

  let outBase = wg.z * O * K;
  for (var e = 0u; e < 4u; e++) {
    let k = k0 + e;
    if (k >= K) { break; }
    for (var r = 0u; r <= oLast; r++) {
      let i = outBase + (o0 + r) * K + k;
      var v = acc[r][e];
      if (ACCUMULATE) { v = fma(params.alpha, v, params.beta * out[i]); }
      out[i] = v;
    }
  }
}
