// The GPU runtime's public surface.
export { acquireDevice, type AdapterSummary, type GpuContext } from './device.ts';
export * from './errors.ts';
export { Kernel, KernelCache, type BindArgs, type Constants, type UniformValues } from './kernel.ts';
export { Dispatch, Program, Runtime, type RuntimeStats, type Workgroups } from './runtime.ts';
export { mapShaderSource, type ShaderSource } from './shader-source.ts';
export { BYTES_PER_ELEMENT, Tensor, numel, type DType, type HostArray } from './tensor.ts';
