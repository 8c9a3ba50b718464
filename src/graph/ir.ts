// The graph IR: a small typed DAG of layers, with the parameters and buffers
// they own named exactly as torchvision's state_dict names them. Built by
// builder.ts, checked and sized by shapes.ts, lowered to dispatches by the
// compiler. Shapes here are per sample; the batch and (for ResNets) the image
// size are chosen when shapes are inferred.
//
// Invariants: node ids are their indices in `nodes`; `nodes` is in
// topological order (every input id < the node's id); node names are unique;
// every param and buffer is owned by exactly one node.

/** Per-sample dims of an input; `null` is a free spatial size fixed at inferShapes(). */
export type Dim = number | null;

export interface InputAttrs {
  /** 'data' is the image (or feature) batch; 'target' the class indices. */
  role: 'data' | 'target';
  /** Per-sample shape: [C, H, W] (H, W may be null) or [F]; [] for a target (one index per sample). */
  shape: readonly Dim[];
  dtype: 'f32' | 'i32';
}

export interface Conv2dAttrs {
  weight: string;
  bias: string | null;
  inChannels: number;
  outChannels: number;
  /** [kh, kw]. */
  kernel: readonly [number, number];
  /** Same on both spatial axes (what the conv kernels take). */
  stride: number;
  /** Zero padding on every side. */
  pad: number;
}

export interface BatchnormAttrs {
  /** The module path, e.g. 'layer1.0.bn1'; the names below are `${prefix}.weight` etc. */
  prefix: string;
  channels: number;
  eps: number;
  /** PyTorch's convention: running = (1 − momentum)·running + momentum·batch. */
  momentum: number;
  weight: string;
  bias: string;
  runningMean: string;
  runningVar: string;
  numBatchesTracked: string;
}

export interface MaxpoolAttrs {
  k: number;
  stride: number;
  pad: number;
}

export interface LinearAttrs {
  weight: string;
  bias: string | null;
  inFeatures: number;
  outFeatures: number;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type NoAttrs = {};

export interface AttrsByKind {
  input: InputAttrs;
  conv2d: Conv2dAttrs;
  batchnorm: BatchnormAttrs;
  relu: NoAttrs;
  /** Residual sum of its two inputs (same shape). */
  add: NoAttrs;
  maxpool: MaxpoolAttrs;
  /** N×C×H×W → N×C. */
  global_avgpool: NoAttrs;
  /** N×… → N×(product). */
  flatten: NoAttrs;
  linear: LinearAttrs;
  /** inputs [logits N×K, target N] → scalar mean cross-entropy. */
  softmax_cross_entropy: NoAttrs;
}

export type NodeKind = keyof AttrsByKind;

export const NODE_KINDS: readonly NodeKind[] = [
  'input',
  'conv2d',
  'batchnorm',
  'relu',
  'add',
  'maxpool',
  'global_avgpool',
  'flatten',
  'linear',
  'softmax_cross_entropy',
];

export interface NodeOf<K extends NodeKind> {
  readonly id: number;
  readonly kind: K;
  /** Input node ids, in operand order. */
  readonly inputs: readonly number[];
  /** Module path as torchvision would name it ('layer1.0.conv1'), unique in the graph. */
  readonly name: string;
  readonly attrs: Readonly<AttrsByKind[K]>;
}

/** A node, discriminated by `kind`. */
export type GraphNode = { [K in NodeKind]: NodeOf<K> }[NodeKind];

export type ParamRole = 'conv_weight' | 'linear_weight' | 'bias' | 'bn_weight' | 'bn_bias';

/**
 * How a parameter is initialised, as torchvision does it; the numbers are
 * precomputed so an initialiser needs nothing else. FA/WM/KP draw feedback
 * tensors from the same distribution as the weight.
 */
export type InitSpec =
  /** N(0, std²), std = √2/√fan_out (kaiming_normal_, mode='fan_out', relu): torchvision's conv init. */
  | { kind: 'kaiming_normal_fan_out'; fanOut: number; std: number }
  /** U(−bound, bound), bound = 1/√fan_in (kaiming_uniform_ with a=√5): PyTorch's default Linear/Conv weight init. */
  | { kind: 'kaiming_uniform'; fanIn: number; bound: number }
  /** U(−bound, bound), bound = 1/√fan_in: PyTorch's default Linear/Conv bias init. */
  | { kind: 'uniform_fan_in'; fanIn: number; bound: number }
  | { kind: 'ones' }
  | { kind: 'zeros' };

export interface ParamSpec {
  readonly name: string;
  /** PyTorch layout: conv OIHW, linear (out, in), vectors [C]. */
  readonly shape: readonly number[];
  readonly role: ParamRole;
  readonly init: InitSpec;
  /** Name of the node that owns it. */
  readonly node: string;
}

export type BufferRole = 'bn_running_mean' | 'bn_running_var' | 'bn_num_batches_tracked';

export interface BufferSpec {
  readonly name: string;
  /** [] for the scalar num_batches_tracked. */
  readonly shape: readonly number[];
  /** 'i64' is num_batches_tracked's dtype in torchvision checkpoints. */
  readonly dtype: 'f32' | 'i64';
  readonly role: BufferRole;
  readonly init: 'zeros' | 'ones';
  readonly node: string;
}

export interface Graph {
  /** Model name for messages ('resnet18'). */
  readonly model: string;
  /** Topological order; nodes[i].id === i. */
  readonly nodes: readonly GraphNode[];
  /** Trainable parameters, in state_dict order. */
  readonly params: ReadonlyMap<string, ParamSpec>;
  /** Non-trainable state (BN running statistics), in state_dict order. */
  readonly buffers: ReadonlyMap<string, BufferSpec>;
  /** Node id of the data input. */
  readonly input: number;
  /** Node id of the target input ([N] i32 class indices). */
  readonly target: number;
  /** Node id whose output is the N×K logits. */
  readonly logits: number;
  /** Node id of the scalar loss. */
  readonly loss: number;
}

/** The data input's per-sample shape and dtype. */
export function inputSpec(graph: Graph): InputAttrs {
  return nodeOf(graph, graph.input, 'input').attrs;
}

/** The node with this id, checked to be of this kind. */
export function nodeOf<K extends NodeKind>(graph: Graph, id: number, kind: K): NodeOf<K> {
  const node = graph.nodes[id];
  if (!node || node.kind !== kind) throw new Error(`${graph.model}: node ${id} is ${node ? node.kind : 'missing'}, expected ${kind}`);
  return node as NodeOf<K>;
}

/** The name of a weight's feedback tensor B (same shape and layout as the weight). */
export function feedbackName(weightName: string): string {
  return `feedback.${weightName}`;
}

/** A conv or linear layer: the layers that own a feedback tensor. */
export interface WeightLayer {
  /** Node id. */
  readonly node: number;
  readonly kind: 'conv2d' | 'linear';
  /** Module name ('layer1.0.conv1'). */
  readonly name: string;
  readonly weight: string;
  readonly bias: string | null;
  /** `feedback.<weight>`. */
  readonly feedback: string;
  /** The weight's (and feedback tensor's) shape. */
  readonly shape: readonly number[];
}

/** Every conv and linear layer in topological order. */
export function weightLayers(graph: Graph): WeightLayer[] {
  const out: WeightLayer[] = [];
  for (const node of graph.nodes) {
    if (node.kind !== 'conv2d' && node.kind !== 'linear') continue;
    const { weight, bias } = node.attrs;
    const shape = graph.params.get(weight)!.shape;
    out.push({ node: node.id, kind: node.kind, name: node.name, weight, bias, feedback: feedbackName(weight), shape });
  }
  return out;
}

/** For each node id, the ids of the nodes that read its output (in topological order). */
export function consumers(graph: Graph): number[][] {
  const out: number[][] = graph.nodes.map(() => []);
  for (const node of graph.nodes) for (const i of node.inputs) out[i].push(node.id);
  return out;
}

export interface StateEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: 'f32' | 'i64';
  readonly kind: 'param' | 'buffer';
}

/**
 * Parameters and buffers interleaved in torchvision's state_dict order
 * (`bn1.weight, bn1.bias, bn1.running_mean, bn1.running_var,
 * bn1.num_batches_tracked`, …): the order a checkpoint lists them in.
 */
export function stateDict(graph: Graph): StateEntry[] {
  const out: StateEntry[] = [];
  const param = (name: string | null) => {
    if (name === null) return;
    out.push({ name, shape: graph.params.get(name)!.shape, dtype: 'f32', kind: 'param' });
  };
  const buffer = (name: string) => {
    const b = graph.buffers.get(name)!;
    out.push({ name, shape: b.shape, dtype: b.dtype, kind: 'buffer' });
  };
  for (const node of graph.nodes) {
    if (node.kind === 'conv2d' || node.kind === 'linear') {
      param(node.attrs.weight);
      param(node.attrs.bias);
    } else if (node.kind === 'batchnorm') {
      const a = node.attrs;
      param(a.weight);
      param(a.bias);
      buffer(a.runningMean);
      buffer(a.runningVar);
      buffer(a.numBatchesTracked);
    }
  }
  return out;
}
