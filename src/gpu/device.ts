// One way to a GPUDevice in both worlds. The caller hands in a `GPU` object
// (Node: from the `webgpu` package via src/gpu/node-gpu.ts; browser:
// navigator.gpu); after this point nothing differs.

import { DeviceError } from './errors.ts';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
}

export interface GpuContext {
  /** Held so the implementation's instance outlives the device (dawn.node frees it on GC). */
  readonly gpu: GPU;
  readonly device: GPUDevice;
  readonly adapter: AdapterSummary;
  readonly limits: GPUSupportedLimits;
  readonly features: ReadonlySet<string>;
  readonly hasTimestamps: boolean;
  /** Subgroup size range when the `subgroups` feature is enabled, else null. */
  readonly subgroupSize: { min: number; max: number } | null;
  /** A software adapter (lavapipe, SwiftShader): kernels pick CPU-shaped tiles. */
  readonly isCpu: boolean;
  /** Throws the first uncaptured GPU error or device loss seen so far, if any. */
  checkHealthy(): void;
  destroy(): void;
}

/** Limits the kernels can use; each is requested up to what the adapter has. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBuffersPerShaderStage',
  'maxBindGroups',
] as const;

const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** How the backend was chosen, for reports (Dawn's adapter info lacks it). */
  backend?: string;
  /** Called for an uncaptured error or a loss, besides recording it. */
  onError?: (err: DeviceError) => void;
}

export async function acquireDevice(gpu: GPU, opts: AcquireOptions = {}): Promise<GpuContext> {
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  } catch (e) {
    throw new DeviceError(`requestAdapter(): ${(e as Error).message.trim()}`);
  }
  if (!adapter) {
    throw new DeviceError(
      'requestAdapter(): no WebGPU adapter found. On Linux without a GPU, install a Vulkan driver ' +
        '(`npm run setup` installs Mesa lavapipe on Debian); in a browser, enable WebGPU.',
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });

  let firstError: DeviceError | null = null;
  const record = (err: DeviceError) => {
    firstError ??= err;
    opts.onError?.(err);
  };
  device.addEventListener('uncapturederror', (ev) => {
    const msg = (ev as GPUUncapturedErrorEvent).error.message;
    record(new DeviceError(`GPU error: ${msg.trim()}`));
  });
  let destroyed = false;
  void device.lost.then((info) => {
    if (destroyed || info.reason === 'destroyed') return;
    record(new DeviceError(`GPU device lost (${info.reason}): ${info.message.trim()}`));
  });

  const info = adapter.info;
  const sgInfo = info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const subgroupSize =
    device.features.has('subgroups') && sgInfo.subgroupMinSize && sgInfo.subgroupMaxSize
      ? { min: sgInfo.subgroupMinSize, max: sgInfo.subgroupMaxSize }
      : null;
  const isCpu = info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${info.device} ${info.description}`);
  const summary: AdapterSummary = {
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || 'unknown',
    device: info.device || 'unknown',
    description: info.description || 'unknown',
    backend: opts.backend ?? 'unknown',
  };
  return {
    gpu,
    device,
    adapter: summary,
    limits: device.limits,
    features: new Set(device.features as unknown as Iterable<string>),
    hasTimestamps: device.features.has('timestamp-query'),
    subgroupSize,
    isCpu,
    checkHealthy() {
      if (firstError) throw firstError;
    },
    destroy() {
      destroyed = true;
      device.destroy();
    },
  };
}
