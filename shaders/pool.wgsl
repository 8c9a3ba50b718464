// pool: max pooling (PyTorch MaxPool2d, dilation 1, ceil_mode false,
// padding acts as −∞) and global average pooling, NCHW, f32.
//
//   max_forward    y[n,c,oy,ox] = max over the k×k window at (oy·s − p, ox·s − p),
//                  and argmax = iy·W + ix of the FIRST maximum in row-major
//                  window order (strict >, so ties keep the first, as PyTorch),
//                  an i32 index within the H×W plane. One output per element
//                  of a thread's span.
//   max_backward   dx[n,c,iy,ix] = Σ dy over the windows that cover (iy, ix) and
//                  whose argmax is this pixel: each input pixel gathers from
//                  its ⌈k/s⌉² covering windows, so no atomics are needed.
//   avg_forward    y[n,c] = mean of plane (n, c); one thread per plane.
//   avg_backward   dx[n,c,i] = dy[n,c] / (H·W).
// k, stride and pad are uniforms (defaults 3/2/1 in the launcher). NaN inputs
// do not propagate through max pooling as they do in PyTorch (a NaN never
// compares greater).
//
// Plane-wise entries (max_*, avg_backward): workgroup (x, c, n) covers
// EW·PER_THREAD elements of the output (forward) or input (backward) plane
// (n, c); each thread handles PER_THREAD of them, EW apart.
//
// Test: kernels-test/pool.test.ts. Time: `nowt bench --kernels`.

override EW: u32 = 64u;
override COVER: u32 = 2u; // max_backward: ⌈k / stride⌉, windows covering a pixel per axis
const PER_THREAD = 4u;

struct Window {
  C: u32,
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  k: u32,
  stride: u32,
  pad: u32,
}

struct Planes {
  planes: u32, // N·C
  C: u32,
  hw: u32,
}

@group(0) @binding(0) var<uniform> wp: Window;
@group(0) @binding(1) var<uniform> ap: Planes;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> argmax: array<i32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read> argmax_in: array<i32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

// a / d for a < 2^20: llvmpipe has no vector integer divide and scalarises
// it, so divide in f32 (error < 1/8 at this size) and fix the off-by-one.
fn udiv(a: u32, d: u32) -> u32 {
  var q = u32(f32(a) / f32(d));
  if (q * d > a) { q -= 1u; } else if ((q + 1u) * d <= a) { q += 1u; }
  return q;
}

@compute @workgroup_size(EW)
fn max_forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let plane = wg.z * wp.C + wg.y;
  let xbase = plane * wp.H * wp.W;
  let ybase = plane * wp.OH * wp.OW;
  let i0 = wg.x * EW * PER_THREAD + li;
  for (var r = 0u; r < PER_THREAD; r++) {
    let o = i0 + r * EW;
    if (o >= wp.OH * wp.OW) { break; }
    let oy = udiv(o, wp.OW);
    let ox = o - oy * wp.OW;
    // Clip the window to the plane; pad ≤ k/2 leaves at least one pixel in it.
    let y0 = i32(oy * wp.stride) - i32(wp.pad);
    let x0 = i32(ox * wp.stride) - i32(wp.pad);
    let ky0 = u32(max(y0, 0));
    let kx0 = u32(max(x0, 0));
    let ky1 = u32(min(y0 + i32(wp.k), i32(wp.H)));
    let kx1 = u32(min(x0 + i32(wp.k), i32(wp.W)));
    var best = x[xbase + ky0 * wp.W + kx0];
    var best_i = ky0 * wp.W + kx0;
    for (var iy = ky0; iy < ky1; iy++) {
      for (var ix = kx0; ix < kx1; ix++) {
        let v = x[xbase + iy * wp.W + ix];
        if (v > best) {
          best = v;
          best_i = iy * wp.W + ix;
        }
      }
    }
    y[ybase + o] = best;
    argmax[ybase + o] = i32(best_i);
  }
}

@compute @workgroup_size(EW)
fn max_backward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let plane = wg.z * wp.C + wg.y;
  let xbase = plane * wp.H * wp.W;
  let ybase = plane * wp.OH * wp.OW;
  let s = i32(wp.stride);
  let kp = i32(wp.k) - i32(wp.pad);
  let i0 = wg.x * EW * PER_THREAD + li;
  for (var r = 0u; r < PER_THREAD; r++) {
    let p = i0 + r * EW;
    if (p >= wp.H * wp.W) { break; }
    let iy = udiv(p, wp.W);
    let ix = p - iy * wp.W;
    // The last windows starting at or before the pixel: o = ⌊(i + pad) / s⌋.
    // Window o also reaches it iff o·s − pad + k > i; at most COVER do.
    let hy = i32(udiv(iy + wp.pad, wp.stride));
    let hx = i32(udiv(ix + wp.pad, wp.stride));
    var g = 0.0;
    for (var a = 0; a < i32(COVER); a++) {
      let oy = hy - a;
      let row_ok = oy >= 0 && oy < i32(wp.OH) && oy * s + kp > i32(iy);
      for (var b = 0; b < i32(COVER); b++) {
        let ox = hx - b;
        if (row_ok && ox >= 0 && ox < i32(wp.OW) && ox * s + kp > i32(ix)) {
          let o = ybase + u32(oy) * wp.OW + u32(ox);
          if (argmax_in[o] == i32(p)) { g += dy[o]; }
        }
      }
    }
    dx[xbase + p] = g;
  }
}

@compute @workgroup_size(EW)
fn avg_forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) li: u32) {
  let plane = (wg.y * nwg.x + wg.x) * EW + li;
  if (plane >= ap.planes) { return; }
  let base = plane * ap.hw;
  // Four partial sums: fewer dependent adds, and a shorter loop.
  var s = vec4f(0.0);
  var i = 0u;
  for (; i + 4u <= ap.hw; i += 4u) {
    s += vec4f(x[base + i], x[base + i + 1u], x[base + i + 2u], x[base + i + 3u]);
  }
  for (; i < ap.hw; i++) { s.x += x[base + i]; }
  y[plane] = (s.x + s.y + s.z + s.w) / f32(ap.hw);
}

@compute @workgroup_size(EW)
fn avg_backward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let plane = wg.z * ap.C + wg.y;
  let base = plane * ap.hw;
  let g = dy[plane] / f32(ap.hw);
  let i0 = wg.x * EW * PER_THREAD + li;
  for (var r = 0u; r < PER_THREAD; r++) {
    let i = i0 + r * EW;
    if (i < ap.hw) { dx[base + i] = g; }
  }
}
