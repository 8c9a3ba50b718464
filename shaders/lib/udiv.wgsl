// udiv: integer division by a runtime divisor without the u32 divide, which
// costs tens of instructions on most GPUs and a scalar loop on lavapipe.
// Spliced into a shader by `//#include lib/udiv` (src/gpu/wgsl-compose.ts).

// a / d for a < 2^24, given inv = f32(1/d): the f32 quotient is off by at most one.
fn udiv(a: u32, d: u32, inv: f32) -> u32 {
  let q = u32(f32(a) * inv);
  let r = i32(a) - i32(q * d);
  return select(select(q, q + 1u, r >= i32(d)), q - 1u, r < 0);
}
