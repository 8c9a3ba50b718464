// GPU buffers lent by exact (16-byte rounded) size. A released buffer waits in
// `pending` until the next submit, so work already recorded against it keeps
// its data; queue order then makes reuse safe.

import { LimitError } from './errors.ts';

export interface PoolStats {
  /** Bytes lent out now. */
  liveBytes: number;
  /** Most bytes lent out at once. */
  peakBytes: number;
  /** Bytes of GPU buffers the pool has created in all. */
  allocatedBytes: number;
  buffersCreated: number;
}

// STORAGE | COPY_SRC | COPY_DST, spelled as numbers because GPUBufferUsage is
// a global only once a WebGPU implementation has been loaded.
const STORAGE_USAGE = 0x0080 | 0x0004 | 0x0008;

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  readonly stats: PoolStats = { liveBytes: 0, peakBytes: 0, allocatedBytes: 0, buffersCreated: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  static roundSize(bytes: number): number {
    return Math.max(16, Math.ceil(bytes / 16) * 16);
  }

  acquire(bytes: number, label: string): GPUBuffer {
    const size = BufferPool.roundSize(bytes);
    if (size > this.maxBufferSize) {
      throw new LimitError(`${label}: ${size} bytes exceeds the adapter's maxBufferSize ${this.maxBufferSize}`);
    }
    let buf = this.free.get(size)?.pop();
    if (!buf) {
      buf = this.device.createBuffer({ label, size, usage: STORAGE_USAGE });
      this.stats.allocatedBytes += size;
      this.stats.buffersCreated++;
    }
    this.stats.liveBytes += size;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes);
    return buf;
  }

  release(buf: GPUBuffer): void {
    this.stats.liveBytes -= buf.size;
    this.pending.push(buf);
  }

  /** Called right after a queue submit: released buffers become reusable. */
  submitted(): void {
    for (const buf of this.pending) {
      const list = this.free.get(buf.size);
      if (list) list.push(buf);
      else this.free.set(buf.size, [buf]);
    }
    this.pending = [];
  }

  /** Frees every idle buffer (those lent out stay). */
  trim(): void {
    for (const list of this.free.values())
      for (const b of list) {
        this.stats.allocatedBytes -= b.size;
        b.destroy();
      }
    this.free.clear();
  }
}
