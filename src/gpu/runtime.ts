// The runtime: a device, its kernel cache and buffer pool, and the two ways to
// run work: `run` (one-off dispatches) and `record` (a Program replayed many
// times with no allocation and no bind-group creation).

import { BufferPool, type PoolStats } from './buffer-pool.ts';
import type { GpuContext } from './device.ts';
import { LimitError, NowtError, ShapeError } from './errors.ts';
import { debugFlags } from './flags.ts';
import type { ShaderVariant } from './wgsl-compose.ts';
import { Kernel, KernelCache, type BindArgs, type Constants, type UniformValues } from './kernel.ts';
import type { ShaderSource } from './shader-source.ts';
import { BYTES_PER_ELEMENT, Tensor, checkShape, type DType, type HostArray } from './tensor.ts';

export type Workgroups = readonly [number, number?, number?];

/** One recorded kernel launch: pipeline, bind group and grid, all fixed. */
export class Dispatch {
  constructor(
    readonly kernel: Kernel,
    readonly bindGroup: GPUBindGroup,
    readonly workgroups: readonly [number, number, number],
    private readonly uniforms: ReadonlyMap<string, { buffer: GPUBuffer; slot: Kernel['slots'][number] }>,
    private readonly queue: GPUQueue,
  ) {}

  /** Rewrites a uniform in place (e.g. a step counter); no allocation. */
  setUniform(name: string, values: UniformValues): void {
    const u = this.uniforms.get(name);
    if (!u) throw new NowtError(`${this.kernel.label}: no uniform binding "${name}"`);
    this.queue.writeBuffer(u.buffer, 0, this.kernel.packUniform(u.slot, values));
  }

  dispose(): void {
    for (const u of this.uniforms.values()) u.buffer.destroy();
  }
}

/** A fixed sequence of dispatches, encoded into one compute pass per run. */
export class Program {
  constructor(
    private readonly rt: Runtime,
    readonly dispatches: readonly Dispatch[],
  ) {}

  run(): void {
    this.rt.run(this.dispatches);
  }

  encode(encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void {
    this.rt.encode(encoder, this.dispatches, timestampWrites);
  }

  dispose(): void {
    for (const d of this.dispatches) d.dispose();
  }
}

export interface RuntimeStats extends PoolStats {
  bindGroupsCreated: number;
  submits: number;
  pipelines: number;
}

export class Runtime {
  readonly device: GPUDevice;
  readonly kernels: KernelCache;
  private readonly pool: BufferPool;
  private readonly staging: GPUBuffer[] = [];
  private bindGroupsCreated = 0;
  private submits = 0;

  constructor(
    readonly ctx: GpuContext,
    source: ShaderSource,
  ) {
    this.device = ctx.device;
    this.kernels = new KernelCache(ctx.device, source);
    this.pool = new BufferPool(ctx.device, Math.min(ctx.limits.maxBufferSize, ctx.limits.maxStorageBufferBindingSize));
  }

  get stats(): RuntimeStats {
    return { ...this.pool.stats, bindGroupsCreated: this.bindGroupsCreated, submits: this.submits, pipelines: this.kernels.size };
  }

  kernel(shader: string, constants: Constants = {}, entry = 'main', variant: ShaderVariant = {}): Promise<Kernel> {
    return this.kernels.kernel(shader, constants, entry, variant);
  }

  empty(shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
    checkShape(label || 'empty()', shape);
    const bytes = shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype];
    const buf = this.pool.acquire(bytes, label || `tensor[${shape.join('x')}]`);
    return new Tensor(shape, dtype, buf, { release: (t) => this.pool.release(t.buffer) }, label);
  }

  upload(data: HostArray, shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
    const t = this.empty(shape, dtype, label);
    if (data.length !== t.size) {
      throw new ShapeError(`upload(${label || 'tensor'}): ${data.length} values for shape [${shape.join(', ')}] (${t.size})`);
    }
    this.write(t, data);
    return t;
  }

  /**
   * A tensor that shares `base`'s buffer from element `offset` on (e.g. one
   * parameter inside a flat arena). Releasing a view frees nothing.
   */
  view(base: Tensor, offset: number, shape: readonly number[], label = '', dtype: DType = base.dtype): Tensor {
    checkShape(label || 'view()', shape);
    if (BYTES_PER_ELEMENT[dtype] !== BYTES_PER_ELEMENT[base.dtype]) {
      throw new ShapeError(`view(${label || base}): ${dtype} elements do not have ${base.dtype}'s size`);
    }
    const bytesPer = BYTES_PER_ELEMENT[base.dtype];
    const byteOffset = base.byteOffset + offset * bytesPer;
    const align = this.ctx.limits.minStorageBufferOffsetAlignment;
    const size = shape.reduce((a, b) => a * b, 1);
    if (byteOffset % align !== 0) {
      throw new LimitError(
        `view(${label || base}): byte offset ${byteOffset} is not a multiple of minStorageBufferOffsetAlignment ${align}`,
      );
    }
    if (offset < 0 || offset + size > base.size) {
      throw new ShapeError(`view(${label || base}): elements [${offset}, ${offset + size}) exceed ${base} (${base.size})`);
    }
    return new Tensor(shape, dtype, base.buffer, null, label, byteOffset);
  }

  write(t: Tensor, data: HostArray): void {
    if (data.byteLength !== t.byteLength) {
      throw new ShapeError(`write(${t}): ${data.byteLength} bytes for a ${t.byteLength}-byte tensor`);
    }
    // writeBuffer wants a multiple of 4 bytes; an odd-length f16 tensor is padded.
    if (data.byteLength % 4 === 0) this.device.queue.writeBuffer(t.buffer, t.byteOffset, data.buffer, data.byteOffset, data.byteLength);
    else {
      const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
      padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.device.queue.writeBuffer(t.buffer, t.byteOffset, padded);
    }
  }

  /** Builds a dispatch: checks every binding, creates its bind group and uniforms once. */
  dispatch(kernel: Kernel, args: BindArgs, workgroups: Workgroups): Dispatch {
    const grid: [number, number, number] = [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
    const maxWg = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    for (const [i, n] of grid.entries()) {
      if (!Number.isInteger(n) || n < 0 || n > maxWg) {
        throw new LimitError(`${kernel.label}: workgroups[${i}]=${n} exceeds the adapter's maxComputeWorkgroupsPerDimension ${maxWg}`);
      }
    }
    const names = new Set(kernel.slots.map((s) => s.name));
    for (const k of Object.keys(args)) {
      if (!names.has(k)) throw new NowtError(`${kernel.label}: no binding named "${k}" (has: ${[...names].join(', ')})`);
    }
    const uniforms = new Map<string, { buffer: GPUBuffer; slot: Kernel['slots'][number] }>();
    const written = new Set<GPUBuffer>();
    const read = new Set<GPUBuffer>();
    const entries: GPUBindGroupEntry[] = kernel.slots.map((slot) => {
      const arg = args[slot.name];
      if (arg === undefined) throw new NowtError(`${kernel.label}: binding "${slot.name}" not given`);
      if (slot.kind === 'uniform') {
        if (arg instanceof Tensor) throw new NowtError(`${kernel.label}: binding "${slot.name}" is a uniform; pass its values`);
        const data = kernel.packUniform(slot, arg);
        const buffer = this.device.createBuffer({ label: `${kernel.label}.${slot.name}`, size: data.byteLength, usage: 0x0040 | 0x0008 });
        this.device.queue.writeBuffer(buffer, 0, data);
        uniforms.set(slot.name, { buffer, slot });
        return { binding: slot.binding, resource: { buffer } };
      }
      if (!(arg instanceof Tensor)) throw new NowtError(`${kernel.label}: binding "${slot.name}" needs a tensor`);
      if (arg.isReleased) throw new NowtError(`${kernel.label}: binding "${slot.name}" got a released tensor ${arg}`);
      (slot.kind === 'read_write' ? written : read).add(arg.buffer);
      return { binding: slot.binding, resource: { buffer: arg.buffer, offset: arg.byteOffset, size: Math.ceil(arg.byteLength / 4) * 4 } };
    });
    for (const b of written) {
      if (read.has(b)) throw new NowtError(`${kernel.label}: a buffer is bound both for writing and for reading ("${b.label}")`);
    }
    const bindGroup = this.device.createBindGroup({ label: kernel.label, layout: kernel.layout, entries });
    this.bindGroupsCreated++;
    return new Dispatch(kernel, bindGroup, grid, uniforms, this.device.queue);
  }

  encode(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[], timestampWrites?: GPUComputePassTimestampWrites): void {
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    for (const d of dispatches) {
      if (d.workgroups[0] * d.workgroups[1] * d.workgroups[2] === 0) continue;
      pass.setPipeline(d.kernel.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    }
    pass.end();
  }

  run(dispatches: readonly Dispatch[]): void {
    const encoder = this.device.createCommandEncoder();
    this.encode(encoder, dispatches);
    this.submit(encoder.finish());
  }

  record(dispatches: readonly Dispatch[]): Program {
    return new Program(this, dispatches);
  }

  submit(...commands: GPUCommandBuffer[]): void {
    this.ctx.checkHealthy();
    if (debugFlags.validate) this.device.pushErrorScope('validation');
    this.device.queue.submit(commands);
    if (debugFlags.validate) {
      void this.device.popErrorScope().then((err) => {
        if (err) console.error(`validation error in submit #${this.submits}: ${err.message}`);
      });
    }
    this.submits++;
    this.pool.submitted();
  }

  /** Copies a tensor back to the host. Waits for all work queued so far. */
  async read(t: Tensor): Promise<HostArray> {
    const size = Math.ceil(t.byteLength / 4) * 4;
    const idx = this.staging.findIndex((b) => b.size >= size);
    const staging =
      idx >= 0
        ? this.staging.splice(idx, 1)[0]
        : this.device.createBuffer({ label: 'readback', size, usage: 0x0001 /* MAP_READ */ | 0x0008 /* COPY_DST */ });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(t.buffer, t.byteOffset, staging, 0, size);
    this.submit(encoder.finish());
    try {
      await staging.mapAsync(0x0001 /* READ */, 0, size);
    } catch (e) {
      this.ctx.checkHealthy();
      throw e;
    }
    const bytes = staging.getMappedRange(0, size).slice(0, t.byteLength);
    staging.unmap();
    this.staging.push(staging);
    this.ctx.checkHealthy();
    switch (t.dtype) {
      case 'f32':
        return new Float32Array(bytes);
      case 'i32':
        return new Int32Array(bytes);
      case 'u32':
        return new Uint32Array(bytes);
      case 'f16':
        return new Uint16Array(bytes);
    }
  }

  async readF32(t: Tensor): Promise<Float32Array> {
    if (t.dtype !== 'f32') throw new NowtError(`readF32(${t}): tensor is ${t.dtype}`);
    return (await this.read(t)) as Float32Array;
  }

  /** Resolves when the GPU has finished everything submitted so far. */
  async finish(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.ctx.checkHealthy();
  }

  destroy(): void {
    this.pool.trim();
    for (const b of this.staging) b.destroy();
    this.ctx.destroy();
  }
}
