// The bench JSON of ../shared/design/INTERFACES.md.

import type { AdapterSummary } from '../../src/gpu/device.ts';

export interface KernelRecord {
  name: string;
  shape: string;
  gflops: number;
  gbps: number;
  ms: number;
}

export interface ModelRecord {
  model: string;
  rule: string;
  batch_size: number;
  image_size: number;
  images_per_s: number;
  ms_per_step: number;
}

export interface PeerRecord {
  name: string;
  what: string;
  gflops?: number;
  images_per_s?: number;
  ms?: number;
  [extra: string]: unknown;
}

export interface BenchReport {
  adapter: AdapterSummary;
  peak_gflops: number;
  kernels: KernelRecord[];
  models: ModelRecord[];
  peers: PeerRecord[];
}
