// matmul_params: the uniforms both matmul variants (shaders/matmul.wgsl and
// matmul_lanes.wgsl) take, filled alike by src/kernels/matmul.ts.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  /** with SIGN_B: the scale s of B = sign(W)·s */
  bScale: f32,
  /** ACCUMULATE: C ← alpha·op(A)·op(B) + beta·C */
  alpha: f32,
  beta: f32,
}
