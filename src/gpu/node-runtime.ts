// A Runtime on Dawn with shaders read from disk: what Node commands and tests use.

import { acquireNodeDevice, type NodeDeviceOptions } from './node-gpu.ts';
import { diskShaderSource } from './node-shaders.ts';
import { Runtime } from './runtime.ts';

export async function createNodeRuntime(opts: NodeDeviceOptions = {}): Promise<Runtime> {
  return new Runtime(await acquireNodeDevice(opts), diskShaderSource());
}
