// Node's `GPU`: Dawn through the `webgpu` package. The only file under
// src/gpu that imports a Node module.

import { create, globals } from 'webgpu';
import { acquireDevice, type GpuContext } from './device.ts';

// dawn.node frees an instance when its GPU object is collected, even while
// the event loop still polls it; instances live for the process (one per
// set of flags), so a destroyed device never takes its instance down with it.
const instances = new Map<string, GPU>();

const BACKEND_BY_PLATFORM: Record<string, string> = { linux: 'vulkan', darwin: 'metal', win32: 'd3d12' };

export interface NodeDeviceOptions {
  /** Substring of the adapter's name (Dawn's `adapter=` toggle); NOWT_ADAPTER by default. */
  adapter?: string;
}

/** A device from Dawn. A wrong adapter name fails with Dawn's list of adapters. */
export async function acquireNodeDevice(opts: NodeDeviceOptions = {}): Promise<GpuContext> {
  Object.assign(globalThis, globals);
  const backend = process.env.NOWT_BACKEND ?? BACKEND_BY_PLATFORM[process.platform] ?? 'unknown';
  const flags: string[] = [];
  if (backend !== 'unknown') flags.push(`backend=${backend}`);
  const name = opts.adapter ?? process.env.NOWT_ADAPTER;
  if (name) flags.push(`adapter=${name}`);
  if (process.env.NOWT_DAWN_FLAGS) flags.push(...process.env.NOWT_DAWN_FLAGS.split(' '));
  // Mesa's lavapipe warns without it and some drivers refuse to start.
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const key = flags.join(' ');
  let gpu = instances.get(key);
  if (!gpu) {
    gpu = create(flags) as GPU;
    instances.set(key, gpu);
  }
  try {
    return await acquireDevice(gpu, { backend });
  } catch (e) {
    if (name) (e as Error).message = `--adapter ${JSON.stringify(name)}: ${(e as Error).message}`;
    throw e;
  }
}
