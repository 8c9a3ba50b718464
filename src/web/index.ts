// The browser entry (bundled to dist/nowt.web.js by tools/bundle.js): a
// Runtime on navigator.gpu with the shaders inlined at bundle time, plus the
// engine's public surface. Nothing here may import a Node module; the bundle
// is built for platform 'browser' with no externals, so one would fail it.

import shaders from 'nowt:shaders';
import { acquireDevice, type AcquireOptions } from '../gpu/device.ts';
import { DeviceError } from '../gpu/errors.ts';
import { Runtime } from '../gpu/runtime.ts';
import { mapShaderSource } from '../gpu/shader-source.ts';

export * from '../gpu/index.ts';
export { composeShader, sourceLocation, type ElemType, type ShaderVariant } from '../gpu/wgsl-compose.ts';
export * from '../kernels/linear.ts';
export * from '../kernels/op.ts';

/** Every shaders/*.wgsl file as text, keyed by name (what the Runtime compiles from). */
export const bundledShaders: Readonly<Record<string, string>> = shaders;

/** A Runtime on the page's WebGPU adapter. Throws DeviceError when the page has no WebGPU. */
export async function acquireBrowserRuntime(opts: Omit<AcquireOptions, 'backend'> = {}): Promise<Runtime> {
  const gpu = typeof navigator === 'undefined' ? undefined : navigator.gpu;
  if (!gpu) {
    const why =
      typeof isSecureContext !== 'undefined' && !isSecureContext
        ? ' (the page is not a secure context: serve it over https or from localhost)'
        : '';
    throw new DeviceError(`acquireBrowserRuntime(): navigator.gpu is missing${why}; this browser has WebGPU off or unsupported`);
  }
  return new Runtime(await acquireDevice(gpu, { ...opts, backend: 'browser' }), mapShaderSource(shaders));
}
