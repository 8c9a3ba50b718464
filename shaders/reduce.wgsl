// reduce: out[c] = Σ_r x[r, c] over a rows×cols row-major matrix (the bias
// gradient of a linear layer). One thread per column; f32 accumulation.
// Test: kernels-test/reduce.test.ts (and matmul.test.ts, as the linear layer's bias gradient).

override WG: u32 = 64u;

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn column_sum(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= params.cols) { return; }
  var s = 0.0;
  for (var r = 0u; r < params.rows; r++) { s += x[r * params.cols + c]; }
  out[c] = s;
}
