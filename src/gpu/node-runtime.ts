// A Runtime on Dawn with shaders read from disk: what Node commands and tests
// use. A tuning table applies when asked for (`tuning`, else NOWT_TUNING).

import { applyNodeTuning } from '../kernels/node-tuning.ts';
import { acquireNodeDevice, type NodeDeviceOptions } from './node-gpu.ts';
import { diskShaderSource } from './node-shaders.ts';
import { Runtime } from './runtime.ts';

export interface NodeRuntimeOptions extends NodeDeviceOptions {
  /** A tuning table file, or "auto" for tuning/<adapter key>.json; default: NOWT_TUNING. */
  tuning?: string;
}

export async function createNodeRuntime(opts: NodeRuntimeOptions = {}): Promise<Runtime> {
  const rt = new Runtime(await acquireNodeDevice(opts), diskShaderSource());
  try {
    applyNodeTuning(rt, opts.tuning ?? process.env.NOWT_TUNING);
  } catch (e) {
    rt.destroy();
    throw e;
  }
  return rt;
}
