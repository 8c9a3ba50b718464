// philox: the counter-based Philox4x32-10 generator (Salmon et al. 2011,
// Random123's philox4x32) and the engine's standard normals, mirroring
// kernels-test/reference/philox.ts exactly:
//   key     = (seed, 0)
//   counter = (floor(index / 4), stream, 0, 0)
//   (r0..r3) = philox4x32(counter, key)
//   (z0, z1) = boxMuller(u(r0), u(r1)),  (z2, z3) = boxMuller(u(r2), u(r3))
//   element index takes z[index mod 4];   u(r) = ((r >> 8) + 1)·2^-24 ∈ (0, 1]
// No state lives on the GPU: (seed, stream, counterBase) arrive as uniforms,
// so a generator is three numbers the host can save and restore.
//
// Entries (one thread per Philox call, i.e. per 4 outputs; grid-stride loop):
//   raw_bits  out[4i..4i+3] = philox4x32((c0 + i, c1, c2, c3), (k0, k1)), u32.
//             For known-answer tests and anything that wants bits.
//   normal    out[j] = scale·z(seed, stream, 4·counterBase + j), j < count.
//
// WGSL has no 64-bit integers: mulhilo splits the 32×32 product into 16-bit
// halves. WGSL's log/sin/cos are approximate; two choices keep the normals
// close to the float64 reference on every GPU: −ln u for u ≥ 1/2 is the atanh
// series (a plain log has an absolute, not relative, error near 1, which
// sqrt would blow up), and the angle is taken in (−π, π] (where sin/cos
// accuracy is specified) using cos(2πu) = −cos(2π(u − ½)); u − ½ is exact.
//
// Test: kernels-test/philox.test.ts.

override WG: u32 = 256u;

struct Params {
  // raw_bits: counter (c0..c3) and key (k0, k1); normal: key = (seed, 0), counter = (counterBase + i, stream, 0, 0).
  c0: u32,
  c1: u32,
  c2: u32,
  c3: u32,
  k0: u32,
  k1: u32,
  // Philox calls (raw_bits) or output elements (normal).
  count: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> bits: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const M0 = 0xd2511f53u;
const M1 = 0xcd9e8d57u;
const W0 = 0x9e3779b9u;
const W1 = 0xbb67ae85u;

// (high, low) 32 bits of a·b. Each 16×16 partial product fits in a u32, and
// so does the middle column sum (< 3·2^16).
fn mulhilo(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2u(p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), a * b);
}

fn philox4x32(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    if (r > 0u) { k += vec2u(W0, W1); }
    let p0 = mulhilo(M0, c.x);
    let p1 = mulhilo(M1, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
  }
  return c;
}

fn uniform01(r: u32) -> f32 {
  return f32((r >> 8u) + 1u) * (1.0 / 16777216.0);
}

// −ln u for u ∈ (0, 1], relative error ~1 ulp. For u ≥ ½: 2·atanh(s) with
// s = (1 − u)/(1 + u) ∈ [0, ⅓], series to s^15 (next term < 2e-8 relative).
fn negLog(u: f32) -> f32 {
  let s = (1.0 - u) / (1.0 + u);
  let s2 = s * s;
  var t = 2.0 / 15.0;
  t = fma(t, s2, 2.0 / 13.0);
  t = fma(t, s2, 2.0 / 11.0);
  t = fma(t, s2, 2.0 / 9.0);
  t = fma(t, s2, 2.0 / 7.0);
  t = fma(t, s2, 2.0 / 5.0);
  t = fma(t, s2, 2.0 / 3.0);
  t = fma(t, s2, 2.0);
  return select(-log(u), s * t, u >= 0.5);
}

const PI = 3.14159265358979;

fn boxMuller(u1: f32, u2: f32) -> vec2f {
  let r = sqrt(2.0 * negLog(u1));
  let t = 2.0 * PI * (u2 - 0.5);
  return vec2f(-r * cos(t), -r * sin(t));
}

@compute @workgroup_size(WG)
fn raw_bits(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * WG;
  for (var i = gid.x; i < params.count; i += stride) {
    let r = philox4x32(vec4u(params.c0 + i, params.c1, params.c2, params.c3), vec2u(params.k0, params.k1));
    bits[4u * i] = r.x;
    bits[4u * i + 1u] = r.y;
    bits[4u * i + 2u] = r.z;
    bits[4u * i + 3u] = r.w;
  }
}

@compute @workgroup_size(WG)
fn normal(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * WG;
  let calls = (params.count + 3u) / 4u;
  for (var i = gid.x; i < calls; i += stride) {
    let r = philox4x32(vec4u(params.c0 + i, params.c1, 0u, 0u), vec2u(params.k0, 0u));
    let z = vec4f(boxMuller(uniform01(r.x), uniform01(r.y)), boxMuller(uniform01(r.z), uniform01(r.w))) * params.scale;
    let j = 4u * i;
    if (j + 3u < params.count) {
      out[j] = z.x;
      out[j + 1u] = z.y;
      out[j + 2u] = z.z;
      out[j + 3u] = z.w;
    } else {
      for (var l = 0u; l < params.count - j; l++) { out[j + l] = z[l]; }
    }
  }
}
