// A fluent builder for the graph IR: each call adds one layer, creates the
// parameters and buffers it owns under torchvision's names with torchvision's
// initialisation, checks the layer against its input's shape at once (with
// the batch and image size still unknown), and returns the new node's id.
//
//   const g = new GraphBuilder('resnet18');
//   const x = g.input([3, null, null]);
//   let y = g.conv2d(x, 'conv1', { out: 64, kernel: 7, stride: 2, pad: 3 });
//   y = g.relu(g.batchnorm(y, 'bn1'), 'relu');
//   ...
//   const graph = g.build(g.linear(y, 'fc', { out: 1000 }));   // adds target and loss

import { ShapeError } from '../gpu/errors.ts';
import type { AttrsByKind, BufferSpec, Dim, Graph, GraphNode, InitSpec, NodeKind, ParamRole, ParamSpec } from './ir.ts';
import { NodeShapeError, outputShape } from './shapes.ts';

/** What every model builder takes. */
export interface ModelOptions {
  numClasses: number;
  inChannels: number;
  /** mlp only: hidden layer widths (default [256, 256]). */
  hidden?: readonly number[];
  /** mlp: the image size it is built for (default 28×28). ResNets take any size ≥ their minimum; given, it is checked. */
  inputHW?: readonly [number, number];
}

export interface Conv2dOptions {
  out: number;
  /** Square size or [kh, kw]. */
  kernel: number | readonly [number, number];
  /** Default 1. */
  stride?: number;
  /** Default 0. */
  pad?: number;
  /** Default false (ResNets' convs have none). */
  bias?: boolean;
}

export interface BatchnormOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Default 0.1 (PyTorch's convention). */
  momentum?: number;
}

export interface MaxpoolOptions {
  k: number;
  /** Default k, as PyTorch. */
  stride?: number;
  /** Default 0; at most k/2. */
  pad?: number;
}

export interface LinearOptions {
  out: number;
  /** Default true. */
  bias?: boolean;
}

const kaimingNormalFanOut = (fanOut: number): InitSpec => ({ kind: 'kaiming_normal_fan_out', fanOut, std: Math.SQRT2 / Math.sqrt(fanOut) });
// kaiming_uniform_(a=√5): bound = gain·√(3/fan_in) with gain = √(2/(1+5)), i.e. 1/√fan_in.
const kaimingUniform = (fanIn: number): InitSpec => ({ kind: 'kaiming_uniform', fanIn, bound: 1 / Math.sqrt(fanIn) });
const uniformFanIn = (fanIn: number): InitSpec => ({ kind: 'uniform_fan_in', fanIn, bound: 1 / Math.sqrt(fanIn) });

export class GraphBuilder {
  private readonly nodes: GraphNode[] = [];
  /** Shapes with the batch (and free image sizes) unknown, by node id. */
  private readonly shapes: Dim[][] = [];
  private readonly names = new Set<string>();
  private readonly params = new Map<string, ParamSpec>();
  private readonly buffers = new Map<string, BufferSpec>();
  private dataInput = -1;
  private built = false;

  constructor(readonly model = 'model') {}

  /**
   * The data input, per sample: [C, H, W] with H and W numbers or null (any
   * size, fixed at inferShapes), or [F] features. One per graph.
   */
  input(shape: readonly Dim[], name = 'input'): number {
    const where = `${this.model}: ${name}`;
    if (this.dataInput >= 0) throw new ShapeError(`${where}: the graph already has an input (${this.nodes[this.dataInput].name})`);
    if (shape.length !== 1 && shape.length !== 3) throw new ShapeError(`${where}: shape [${shape.join(', ')}] must be [C, H, W] or [F]`);
    shape.forEach((d, i) => {
      const free = d === null && shape.length === 3 && i > 0;
      if (!free) this.positive(where, `shape[${i}]`, d as number);
    });
    this.dataInput = this.push('input', name, [], { role: 'data', shape: [...shape], dtype: 'f32' });
    return this.dataInput;
  }

  conv2d(x: number, name: string, o: Conv2dOptions): number {
    const where = `${this.model}: ${name}`;
    const kernel: [number, number] = typeof o.kernel === 'number' ? [o.kernel, o.kernel] : [o.kernel[0], o.kernel[1]];
    const stride = o.stride ?? 1;
    const pad = o.pad ?? 0;
    this.positive(where, 'out', o.out);
    this.positive(where, 'kernel[0]', kernel[0]);
    this.positive(where, 'kernel[1]', kernel[1]);
    this.positive(where, 'stride', stride);
    if (!Number.isInteger(pad) || pad < 0) throw new ShapeError(`${where}: pad=${pad} must be an integer ≥ 0`);
    const inChannels = this.channels(x, where);
    const weight = `${name}.weight`;
    const bias = o.bias ? `${name}.bias` : null;
    const fanIn = inChannels * kernel[0] * kernel[1];
    this.unused(name, [weight, bias]);
    const id = this.push('conv2d', name, [x], { weight, bias, inChannels, outChannels: o.out, kernel, stride, pad });
    this.param(weight, [o.out, inChannels, ...kernel], 'conv_weight', kaimingNormalFanOut(o.out * kernel[0] * kernel[1]), name);
    if (bias) this.param(bias, [o.out], 'bias', uniformFanIn(fanIn), name);
    return id;
  }

  batchnorm(x: number, name: string, o: BatchnormOptions = {}): number {
    const where = `${this.model}: ${name}`;
    const eps = o.eps ?? 1e-5;
    const momentum = o.momentum ?? 0.1;
    if (!(eps > 0)) throw new ShapeError(`${where}: eps=${eps} must be > 0`);
    if (!(momentum >= 0 && momentum <= 1)) throw new ShapeError(`${where}: momentum=${momentum} must be in [0, 1]`);
    const channels = this.channels(x, where);
    const n = (s: string) => `${name}.${s}`;
    const attrs: AttrsByKind['batchnorm'] = {
      prefix: name,
      channels,
      eps,
      momentum,
      weight: n('weight'),
      bias: n('bias'),
      runningMean: n('running_mean'),
      runningVar: n('running_var'),
      numBatchesTracked: n('num_batches_tracked'),
    };
    this.unused(name, [attrs.weight, attrs.bias, attrs.runningMean, attrs.runningVar, attrs.numBatchesTracked]);
    const id = this.push('batchnorm', name, [x], attrs);
    this.param(attrs.weight, [channels], 'bn_weight', { kind: 'ones' }, name);
    this.param(attrs.bias, [channels], 'bn_bias', { kind: 'zeros' }, name);
    this.buffer({ name: attrs.runningMean, shape: [channels], dtype: 'f32', role: 'bn_running_mean', init: 'zeros', node: name });
    this.buffer({ name: attrs.runningVar, shape: [channels], dtype: 'f32', role: 'bn_running_var', init: 'ones', node: name });
    this.buffer({ name: attrs.numBatchesTracked, shape: [], dtype: 'i64', role: 'bn_num_batches_tracked', init: 'zeros', node: name });
    return id;
  }

  relu(x: number, name?: string): number {
    return this.push('relu', name ?? this.autoName('relu'), [x], {});
  }

  /** Residual sum a + b (same shapes). */
  add(a: number, b: number, name?: string): number {
    return this.push('add', name ?? this.autoName('add'), [a, b], {});
  }

  maxpool(x: number, name: string, o: MaxpoolOptions): number {
    const where = `${this.model}: ${name}`;
    const stride = o.stride ?? o.k;
    const pad = o.pad ?? 0;
    this.positive(where, 'k', o.k);
    this.positive(where, 'stride', stride);
    if (!Number.isInteger(pad) || pad < 0 || pad > Math.floor(o.k / 2)) {
      throw new ShapeError(`${where}: pad=${pad} must be an integer in [0, k/2] (k=${o.k})`);
    }
    return this.push('maxpool', name, [x], { k: o.k, stride, pad });
  }

  /** N×C×H×W → N×C. */
  globalAvgPool(x: number, name?: string): number {
    return this.push('global_avgpool', name ?? this.autoName('avgpool'), [x], {});
  }

  flatten(x: number, name?: string): number {
    return this.push('flatten', name ?? this.autoName('flatten'), [x], {});
  }

  linear(x: number, name: string, o: LinearOptions): number {
    const where = `${this.model}: ${name}`;
    this.positive(where, 'out', o.out);
    const s = this.shapeOf(x, where);
    if (s.length !== 2 || s[1] === null) {
      throw new ShapeError(
        `${where}: linear needs an N×F input with F known when the graph is built, got [${s.map((d) => d ?? '?').join(', ')}]`,
      );
    }
    const inFeatures = s[1];
    const weight = `${name}.weight`;
    const bias = o.bias === false ? null : `${name}.bias`;
    this.unused(name, [weight, bias]);
    const id = this.push('linear', name, [x], { weight, bias, inFeatures, outFeatures: o.out });
    this.param(weight, [o.out, inFeatures], 'linear_weight', kaimingUniform(inFeatures), name);
    if (bias) this.param(bias, [o.out], 'bias', uniformFanIn(inFeatures), name);
    return id;
  }

  /** The shape of a node's output so far, batch first; unknown dims are null. */
  shape(x: number): readonly Dim[] {
    return this.shapeOf(x, `${this.model}: shape()`);
  }

  /**
   * Ends the graph: `logits` (N×K) feeds a softmax cross-entropy node 'loss'
   * whose other input is a new [N] i32 input 'target'.
   */
  build(logits: number): Graph {
    const where = `${this.model}: build()`;
    if (this.built) throw new ShapeError(`${where}: already built`);
    if (this.dataInput < 0) throw new ShapeError(`${where}: the graph has no input`);
    const s = this.shapeOf(logits, where);
    if (s.length !== 2) throw new ShapeError(`${where}: logits (${this.nodes[logits].name}) must be N×K, got rank ${s.length}`);
    const target = this.push('input', 'target', [], { role: 'target', shape: [], dtype: 'i32' });
    const loss = this.push('softmax_cross_entropy', 'loss', [logits, target], {});
    this.built = true;
    return {
      model: this.model,
      nodes: this.nodes,
      params: this.params,
      buffers: this.buffers,
      input: this.dataInput,
      target,
      logits,
      loss,
    };
  }

  private push<K extends NodeKind>(kind: K, name: string, inputs: number[], attrs: AttrsByKind[K]): number {
    const where = `${this.model}: ${name}`;
    if (this.built) throw new ShapeError(`${where}: the graph is already built`);
    if (!name) throw new ShapeError(`${this.model}: a ${kind} node needs a name`);
    if (this.names.has(name)) throw new ShapeError(`${where}: a node with this name already exists`);
    const ins = inputs.map((i) => this.shapeOf(i, where));
    const id = this.nodes.length;
    const node = { id, kind, inputs, name, attrs } as GraphNode;
    let shape: Dim[];
    if (kind === 'input') {
      shape = [null, ...(attrs as AttrsByKind['input']).shape];
    } else {
      try {
        shape = outputShape(node, ins);
      } catch (e) {
        if (e instanceof NodeShapeError) throw new NodeShapeError(e.node, e.detail, e.sizeDependent, `${this.model}: ${e.message}`);
        throw e;
      }
    }
    this.nodes.push(node);
    this.shapes.push(shape);
    this.names.add(name);
    return id;
  }

  private shapeOf(x: number, where: string): Dim[] {
    if (!Number.isInteger(x) || x < 0 || x >= this.nodes.length) throw new ShapeError(`${where}: input node ${x} does not exist`);
    return this.shapes[x];
  }

  /** The channel count (dim 1) of a node's output, known at build time. */
  private channels(x: number, where: string): number {
    const s = this.shapeOf(x, where);
    if (s.length < 2 || s[1] === null) throw new ShapeError(`${where}: input (${this.nodes[x].name}) has no known channel dimension`);
    return s[1];
  }

  private positive(where: string, what: string, v: number): void {
    if (!Number.isInteger(v) || v < 1) throw new ShapeError(`${where}: ${what}=${v} must be a positive integer`);
  }

  private autoName(stem: string): string {
    if (!this.names.has(stem)) return stem;
    let i = 1;
    while (this.names.has(`${stem}_${i}`)) i++;
    return `${stem}_${i}`;
  }

  /** Checked before a node is added, so a refused layer leaves the builder unchanged. */
  private unused(name: string, stateNames: (string | null)[]): void {
    const where = `${this.model}: ${name}`;
    if (this.names.has(name)) throw new ShapeError(`${where}: a node with this name already exists`);
    for (const n of stateNames) {
      if (n !== null && (this.params.has(n) || this.buffers.has(n)))
        throw new ShapeError(`${where}: state_dict name ${n} is already taken`);
    }
  }

  private param(name: string, shape: number[], role: ParamRole, init: InitSpec, node: string): void {
    this.params.set(name, { name, shape, role, init, node });
  }

  private buffer(spec: BufferSpec): void {
    this.buffers.set(spec.name, spec);
  }
}

/** Checks the options every model takes; throws ShapeError naming the model. */
export function checkModelOptions(model: string, o: ModelOptions): void {
  for (const key of ['numClasses', 'inChannels'] as const) {
    const v = o[key];
    if (!Number.isInteger(v) || v < 1) throw new ShapeError(`${model}: ${key}=${v} must be a positive integer`);
  }
}
