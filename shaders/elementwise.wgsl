// elementwise: the parameter-free pointwise ops of a ResNet, on flat arrays
// of n elements of type `elem` (f32, or f16 storage: //#elem below; the
// arithmetic is f32 either way). Any layout; operands share one shape.
//
//   relu_forward   y = max(x, 0)
//   relu_backward  dx = dy·[y > 0]  (y: the forward output; y > 0 ⇔ x > 0, and
//                  the derivative at 0 is 0, as PyTorch)
//   add            out = a + b, or relu(a + b) with RELU (a residual join)
//   add_inplace    acc += a (accumulating a second gradient into a buffer)
//
// One thread handles PER_THREAD elements WG apart, so a workgroup covers a
// contiguous span of WG·PER_THREAD; the grid is 2-D (x·y workgroups in row
// order) so that large tensors stay under maxComputeWorkgroupsPerDimension.
//
// Test: kernels-test/elementwise.test.ts. Time: `nowt bench --kernels`.

//#elem

override WG: u32 = 64u;
override RELU: bool = false;
const PER_THREAD = 4u;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<elem>;
@group(0) @binding(2) var<storage, read_write> y: array<elem>;
@group(0) @binding(3) var<storage, read> dy: array<elem>;
@group(0) @binding(4) var<storage, read> y_fwd: array<elem>;
@group(0) @binding(5) var<storage, read_write> dx: array<elem>;
@group(0) @binding(6) var<storage, read> a: array<elem>;
@group(0) @binding(7) var<storage, read> b: array<elem>;
@group(0) @binding(8) var<storage, read_write> out: array<elem>;
@group(0) @binding(9) var<storage, read_write> acc: array<elem>;

fn first(wg: vec3u, nwg: vec3u, li: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * WG * PER_THREAD + li;
}

@compute @workgroup_size(WG)
fn relu_forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) li: u32) {
  let i0 = first(wg, nwg, li);
  for (var r = 0u; r < PER_THREAD; r++) {
    let i = i0 + r * WG;
    if (i < params.n) { y[i] = elem(max(f32(x[i]), 0.0)); }
  }
}

@compute @workgroup_size(WG)
fn relu_backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) li: u32) {
  let i0 = first(wg, nwg, li);
  for (var r = 0u; r < PER_THREAD; r++) {
    let i = i0 + r * WG;
    if (i < params.n) { dx[i] = select(elem(0.0), dy[i], f32(y_fwd[i]) > 0.0); }
  }
}

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_index) li: u32) {
  let i0 = first(wg, nwg, li);
  for (var r = 0u; r < PER_THREAD; r++) {
    let i = i0 + r * WG;
    if (i < params.n) {
      var v = f32(a[i]) + f32(b[i]);
      if (RELU) { v = max(v, 0.0); }
      out[i] = elem(v);
    }
  }
}

@compute @workgroup_size(WG)
fn add_inplace(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) li: u32) {
  let i0 = first(wg, nwg, li);
  for (var r = 0u; r < PER_THREAD; r++) {
    let i = i0 + r * WG;
    if (i < params.n) { acc[i] = elem(f32(acc[i]) + f32(a[i])); }
  }
}
