// peak_probe: measures the adapter's f32 FMA throughput. Each thread runs
// ITERS rounds of 8 independent vec4 FMA chains, unrolled 4× so loop overhead
// and dependency latency do not hide the arithmetic peak; the result is stored
// so the compiler cannot drop the work.
// FLOPs per thread = ITERS · 4 · 8 · 4 · 2. Run by `nowt bench --kernels`.

override WG: u32 = 64u;

struct Params {
  iters: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  var x0 = vec4f(f32(gid.x) * 1e-6);
  var x1 = x0 + 1.0;
  var x2 = x0 + 2.0;
  var x3 = x0 + 3.0;
  var x4 = x0 + 4.0;
  var x5 = x0 + 5.0;
  var x6 = x0 + 6.0;
  var x7 = x0 + 7.0;
  let m = vec4f(0.9999);
  let c = vec4f(1e-4);
  for (var i = 0u; i < params.iters; i++) {
    for (var u = 0u; u < 4u; u++) {
      x0 = fma(x0, m, c);
      x1 = fma(x1, m, c);
      x2 = fma(x2, m, c);
      x3 = fma(x3, m, c);
      x4 = fma(x4, m, c);
      x5 = fma(x5, m, c);
      x6 = fma(x6, m, c);
      x7 = fma(x7, m, c);
    }
  }
  out[gid.x] = dot(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7, vec4f(1.0));
}
