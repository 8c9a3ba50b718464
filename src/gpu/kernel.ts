// A compiled compute kernel: one WGSL entry point specialised by override
// constants. Its bind-group layout and uniform layout are read from the WGSL
// with wgsl_reflect, so no binding table or byte offset is written by hand.

import { WgslReflect, ResourceType, type VariableInfo } from 'wgsl_reflect/wgsl_reflect.module.js';
import { CompileError, NowtError } from './errors.ts';
import { debugFlags } from './flags.ts';
import type { ShaderSource } from './shader-source.ts';
import { composeShader, sourceLocation, type ShaderVariant } from './wgsl-compose.ts';
import type { Tensor } from './tensor.ts';

export type Constants = Record<string, number | boolean>;
export type UniformValues = Record<string, number>;

interface UniformMember {
  name: string;
  offset: number;
  type: 'u32' | 'i32' | 'f32';
}

interface BindingSlot {
  name: string;
  binding: number;
  kind: 'uniform' | 'read' | 'read_write';
  /** Present for uniform bindings: where each scalar goes. */
  members?: UniformMember[];
  size: number;
}

/** Arguments of one dispatch, keyed by the WGSL variable names. */
export type BindArgs = Record<string, Tensor | UniformValues>;

export class Kernel {
  readonly slots: readonly BindingSlot[];

  constructor(
    readonly label: string,
    readonly device: GPUDevice,
    readonly pipeline: GPUComputePipeline,
    readonly layout: GPUBindGroupLayout,
    slots: BindingSlot[],
  ) {
    this.slots = slots;
  }

  /** Packs uniform values into the struct layout the WGSL declares. */
  packUniform(slot: BindingSlot, values: UniformValues): ArrayBuffer {
    const members = slot.members ?? [];
    const data = new ArrayBuffer(Math.max(16, Math.ceil(slot.size / 16) * 16));
    const view = new DataView(data);
    for (const key of Object.keys(values)) {
      if (!members.some((m) => m.name === key)) {
        throw new NowtError(`${this.label}: uniform "${slot.name}" has no member "${key}"`);
      }
    }
    for (const m of members) {
      const v = values[m.name];
      if (v === undefined) throw new NowtError(`${this.label}: uniform "${slot.name}.${m.name}" not given`);
      if (m.type === 'f32') view.setFloat32(m.offset, v, true);
      else if (m.type === 'i32') view.setInt32(m.offset, v, true);
      else view.setUint32(m.offset, v, true);
    }
    return data;
  }
}

const kindOf = (v: VariableInfo): BindingSlot['kind'] => {
  if (v.resourceType === ResourceType.Uniform) return 'uniform';
  if (v.resourceType === ResourceType.Storage) return v.access === 'read_write' ? 'read_write' : 'read';
  throw new NowtError(`binding "${v.name}": only uniform and storage buffers are supported`);
};

function uniformMembers(v: VariableInfo, label: string): UniformMember[] {
  const members = v.members;
  if (!members) throw new NowtError(`${label}: uniform "${v.name}" must be a struct of scalars`);
  return members.map((m) => {
    const t = m.type.name;
    if (t !== 'u32' && t !== 'i32' && t !== 'f32') {
      throw new NowtError(`${label}: uniform member "${v.name}.${m.name}" is ${t}; only u32/i32/f32 scalars are supported`);
    }
    return { name: m.name, offset: m.offset, type: t };
  });
}

interface Reflected {
  reflect: WgslReflect;
  module: GPUShaderModule;
}

/** Compiles and caches kernels by (shader, entry, override constants). */
export class KernelCache {
  private readonly modules = new Map<string, Promise<Reflected>>();
  private readonly kernels = new Map<string, Promise<Kernel>>();

  constructor(
    private readonly device: GPUDevice,
    private readonly source: ShaderSource,
  ) {}

  get size(): number {
    return this.kernels.size;
  }

  /** A kernel by (shader, entry, override constants, element type): every knob that changes the pipeline is in the key. */
  kernel(shader: string, constants: Constants = {}, entry = 'main', variant: ShaderVariant = {}): Promise<Kernel> {
    const sorted = Object.fromEntries(Object.entries(constants).sort(([a], [b]) => (a < b ? -1 : 1)));
    const elem = variant.elem ?? 'f32';
    const key = JSON.stringify({ shader, entry, constants: sorted, elem });
    let k = this.kernels.get(key);
    if (!k) {
      k = this.build(shader, entry, sorted, elem);
      this.kernels.set(key, k);
      k.catch(() => this.kernels.delete(key));
    }
    return k;
  }

  private module(shader: string, elem: ShaderVariant['elem']): Promise<Reflected> {
    const key = `${shader}|${elem}`;
    let m = this.modules.get(key);
    if (!m) {
      m = this.compileModule(shader, elem);
      this.modules.set(key, m);
      m.catch(() => this.modules.delete(key));
    }
    return m;
  }

  private async compileModule(shader: string, elem: ShaderVariant['elem']): Promise<Reflected> {
    const composed = composeShader(shader, this.source, { elem });
    const code = composed.code;
    const file = this.source.fileName(shader);
    if (debugFlags.printShaders) console.log(`--- ${file} (elem ${elem}; ${composed.files.join(', ')})\n${code}`);
    const module = this.device.createShaderModule({ label: file, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      const lines = errors.map((m) => `${sourceLocation(composed, m.lineNum)}:${m.linePos}: ${m.message}`);
      throw new CompileError(`WGSL compile error\n${lines.join('\n')}`);
    }
    let reflect: WgslReflect;
    try {
      reflect = new WgslReflect(code);
    } catch (e) {
      throw new CompileError(`${file}: wgsl_reflect could not parse it: ${(e as Error).message}`);
    }
    return { reflect, module };
  }

  private async build(shader: string, entry: string, constants: Constants, elem: ShaderVariant['elem']): Promise<Kernel> {
    const { reflect, module } = await this.module(shader, elem);
    const file = this.source.fileName(shader);
    const label = elem === 'f32' ? `${shader}:${entry}` : `${shader}:${entry}<${elem}>`;
    const fn = reflect.entry.compute.find((f) => f.name === entry);
    if (!fn) throw new CompileError(`${file}: no @compute entry point "${entry}"`);
    const known = new Set(reflect.overrides.map((o) => o.name));
    for (const name of Object.keys(constants)) {
      if (!known.has(name)) throw new CompileError(`${file}: no override constant "${name}" (has: ${[...known].join(', ')})`);
    }
    const slots: BindingSlot[] = fn.resources
      .filter((v) => v.group === 0)
      .map((v) => {
        const kind = kindOf(v);
        const slot: BindingSlot = { name: v.name, binding: v.binding, kind, size: v.size };
        if (kind === 'uniform') slot.members = uniformMembers(v, label);
        return slot;
      })
      .sort((a, b) => a.binding - b.binding);
    if (fn.resources.some((v) => v.group !== 0)) throw new CompileError(`${file}: kernels use @group(0) only`);
    const layout = this.device.createBindGroupLayout({
      label,
      entries: slots.map((s) => ({
        binding: s.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: s.kind === 'uniform' ? 'uniform' : s.kind === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
    const numeric: Record<string, number> = {};
    for (const [k, v] of Object.entries(constants)) numeric[k] = typeof v === 'boolean' ? Number(v) : v;
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await this.device.createComputePipelineAsync({
        label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: entry, constants: numeric },
      });
    } catch (e) {
      throw new CompileError(`${file}: pipeline "${entry}" with ${JSON.stringify(constants)}: ${(e as Error).message}`);
    }
    return new Kernel(label, this.device, pipeline, layout, slots);
  }
}
