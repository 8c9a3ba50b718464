// Shape inference and validation. One rule per node kind (outputShape) works
// on shapes whose dims may still be unknown (null): the builder runs it as
// layers are added (so channel mismatches are caught at once), inferShapes()
// runs it again with the batch and image size fixed.
//
// Beyond "no 0-sized tensors" one size rule is stricter than PyTorch: a
// strided conv or pool may not get a 1-pixel-wide input. PyTorch accepts it
// (3×3/2 pad 1 maps 1×1 to 1×1, all but the centre tap reading padding), but a
// ResNet fed so small an image has stages that see only padding, which is
// never what was meant; so each model has a smallest input, and a smaller one
// is refused with that size in the message.

import { ShapeError } from '../gpu/errors.ts';
import type { Dim, Graph, GraphNode } from './ir.ts';

/** Full shapes ([N, C, H, W], [N, F], [N] or [] for the loss), indexed by node id. */
export type Shapes = readonly (readonly number[])[];

/** A node's shape problem; `sizeDependent` if another image size could fix it. */
export class NodeShapeError extends ShapeError {
  override name = 'NodeShapeError';
  constructor(
    readonly node: string,
    readonly detail: string,
    readonly sizeDependent: boolean,
    message = `${node}: ${detail}`,
  ) {
    super(message);
  }
}

const fmt = (shape: readonly Dim[]) => `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]`;
const hw = (h: Dim, w: Dim) => `${h ?? '?'}×${w ?? '?'}`;

function expectRank(node: GraphNode, what: string, shape: readonly Dim[], ranks: readonly number[]): void {
  if (!ranks.includes(shape.length)) {
    throw new NodeShapeError(node.name, `${what} has shape ${fmt(shape)}, expected rank ${ranks.join(' or ')}`, false);
  }
}

function expectDim(node: GraphNode, what: string, shape: readonly Dim[], axis: number, want: number, noun: string): void {
  const got = shape[axis];
  if (got !== null && got !== want) {
    throw new NodeShapeError(node.name, `${what} has ${got} ${noun} (shape ${fmt(shape)}) but the layer expects ${want}`, false);
  }
}

/** Output size of a sliding window along one axis; null stays null. */
function windowOut(node: GraphNode, what: string, h: Dim, w: Dim, k: readonly [number, number], stride: number, pad: number): [Dim, Dim] {
  const out: Dim[] = [];
  for (const [size, kk] of [
    [h, k[0]],
    [w, k[1]],
  ] as const) {
    if (size === null) {
      out.push(null);
      continue;
    }
    const window = `a ${k[0]}×${k[1]} ${what} with stride ${stride} and pad ${pad}`;
    if (kk > size + 2 * pad) throw new NodeShapeError(node.name, `input ${hw(h, w)} is too small for ${window}`, true);
    if (stride > 1 && size === 1) {
      throw new NodeShapeError(node.name, `${window} gets a ${hw(h, w)} input, which it cannot downsample`, true);
    }
    out.push(Math.floor((size + 2 * pad - kk) / stride) + 1);
  }
  return [out[0], out[1]];
}

/** Output shape of `node` given its inputs' shapes (unknown dims null). Throws NodeShapeError. */
export function outputShape(node: GraphNode, ins: readonly (readonly Dim[])[]): Dim[] {
  const x = ins[0];
  switch (node.kind) {
    case 'input':
      throw new Error('outputShape(): input nodes have no rule; their shape is given');
    case 'conv2d': {
      const a = node.attrs;
      expectRank(node, 'input', x, [4]);
      expectDim(node, 'input', x, 1, a.inChannels, 'channels');
      return [x[0], a.outChannels, ...windowOut(node, 'conv', x[2], x[3], a.kernel, a.stride, a.pad)];
    }
    case 'batchnorm':
      expectRank(node, 'input', x, [2, 4]);
      expectDim(node, 'input', x, 1, node.attrs.channels, 'channels');
      return [...x];
    case 'relu':
      return [...x];
    case 'add': {
      const y = ins[1];
      const clash = x.length !== y.length || x.some((d, i) => d !== null && y[i] !== null && d !== y[i]);
      if (clash) {
        // Same rank and channels but different spatial sizes: a stride/pad pairing that only some image sizes satisfy.
        const sizeDependent = x.length === y.length && x.length === 4 && x[1] === y[1];
        throw new NodeShapeError(node.name, `cannot add ${fmt(x)} and ${fmt(y)}`, sizeDependent);
      }
      return x.map((d, i) => d ?? y[i]);
    }
    case 'maxpool': {
      const { k, stride, pad } = node.attrs;
      expectRank(node, 'input', x, [4]);
      return [x[0], x[1], ...windowOut(node, 'max pool', x[2], x[3], [k, k], stride, pad)];
    }
    case 'global_avgpool':
      expectRank(node, 'input', x, [4]);
      return [x[0], x[1]];
    case 'flatten': {
      if (x.length < 2) throw new NodeShapeError(node.name, `input has shape ${fmt(x)}, expected rank ≥ 2`, false);
      const rest = x.slice(1);
      return [x[0], rest.includes(null) ? null : (rest as number[]).reduce((p, d) => p * d, 1)];
    }
    case 'linear': {
      const a = node.attrs;
      expectRank(node, 'input', x, [2]);
      if (x[1] !== a.inFeatures) {
        throw new NodeShapeError(
          node.name,
          `input has ${x[1] ?? 'an unknown number of'} features (shape ${fmt(x)}) but the layer expects ${a.inFeatures}`,
          true,
        );
      }
      return [x[0], a.outFeatures];
    }
    case 'softmax_cross_entropy': {
      const t = ins[1];
      expectRank(node, 'logits', x, [2]);
      expectRank(node, 'target', t, [1]);
      if (x[0] !== null && t[0] !== null && x[0] !== t[0]) {
        throw new NodeShapeError(node.name, `logits have ${x[0]} rows but target has ${t[0]}`, false);
      }
      return [];
    }
  }
}

function checkInt(what: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new ShapeError(`inferShapes(): ${what}=${v} must be an integer ≥ ${min}`);
}

/** Shapes with the batch and the data input's free H, W filled in; throws NodeShapeError. */
function infer(graph: Graph, batch: number, size: readonly [number, number] | undefined): number[][] {
  const shapes: Dim[][] = [];
  for (const node of graph.nodes) {
    if (node.kind === 'input') {
      const a = node.attrs;
      let dims = [...a.shape];
      if (a.role === 'data' && dims.length === 3 && size) dims = [dims[0], dims[1] ?? size[0], dims[2] ?? size[1]];
      shapes.push([batch, ...dims]);
    } else {
      const ins = node.inputs.map((i) => shapes[i]);
      shapes.push(outputShape(node, ins));
    }
  }
  return shapes as number[][];
}

/**
 * Every node's shape for a batch of `batch` images of `inputHW` (needed when
 * the model takes any image size, as the ResNets do; must match when it was
 * built for one size, as the mlp is). Throws ShapeError naming the node and
 * the sizes, and for an image that is too small, the model's smallest one.
 */
export function inferShapes(graph: Graph, batch: number, inputHW?: readonly [number, number]): Shapes {
  checkInt('batch', batch, 1);
  const spec = graph.nodes[graph.input];
  if (spec.kind !== 'input') throw new Error(`inferShapes(): ${graph.model} node ${graph.input} is not an input`);
  const dims = spec.attrs.shape;
  if (inputHW) {
    if (inputHW.length !== 2) throw new ShapeError(`inferShapes(): inputHW must be [H, W], got [${inputHW.join(', ')}]`);
    checkInt('inputHW[0]', inputHW[0], 1);
    checkInt('inputHW[1]', inputHW[1], 1);
    if (dims.length !== 3) {
      throw new ShapeError(`inferShapes(): ${graph.model} takes inputs of ${fmt(dims)} features, not ${inputHW[0]}×${inputHW[1]} images`);
    }
    const [h, w] = [dims[1], dims[2]];
    if ((h !== null && h !== inputHW[0]) || (w !== null && w !== inputHW[1])) {
      throw new ShapeError(`inferShapes(): ${graph.model} was built for ${hw(h, w)} inputs, got ${inputHW[0]}×${inputHW[1]}`);
    }
  } else if (dims.includes(null)) {
    throw new ShapeError(`inferShapes(): ${graph.model} takes any image size; give inputHW`);
  }
  try {
    return infer(graph, batch, inputHW);
  } catch (e) {
    if (!(e instanceof NodeShapeError)) throw e;
    const min = e.sizeDependent && inputHW && dims.includes(null) ? minInputSize(graph) : null;
    if (min && (inputHW![0] < min[0] || inputHW![1] < min[1])) {
      const msg = `${graph.model} needs input ≥ ${min[0]}×${min[1]} (got ${inputHW![0]}×${inputHW![1]}): ${e.message}`;
      throw new NodeShapeError(e.node, e.detail, true, msg);
    }
    throw new NodeShapeError(e.node, e.detail, e.sizeDependent, `${graph.model}: ${e.message}`);
  }
}

const MAX_SIDE = 2048;

/**
 * The smallest square input side the model accepts, as [side, side]; null
 * when the input size is fixed or no side up to 2048 fits.
 */
export function minInputSize(graph: Graph): [number, number] | null {
  const spec = graph.nodes[graph.input];
  if (spec.kind !== 'input' || spec.attrs.shape.length !== 3 || !spec.attrs.shape.includes(null)) return null;
  for (let side = 1; side <= MAX_SIDE; side++) {
    try {
      infer(graph, 1, [side, side]);
      return [side, side];
    } catch (e) {
      if (!(e instanceof NodeShapeError)) throw e;
    }
  }
  return null;
}

const numel = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** Number of trainable parameters (BN running buffers excluded), as `sum(p.numel() for p in model.parameters())`. */
export function countParams(graph: Graph): number {
  let n = 0;
  for (const p of graph.params.values()) n += numel(p.shape);
  return n;
}

/** Multiply-accumulates of the conv and linear layers in one forward pass (FLOPs ≈ 2×). */
export function forwardMacs(graph: Graph, shapes: Shapes): number {
  let n = 0;
  for (const node of graph.nodes) {
    if (node.kind === 'conv2d') n += numel(shapes[node.id]) * node.attrs.inChannels * node.attrs.kernel[0] * node.attrs.kernel[1];
    else if (node.kind === 'linear') n += numel(shapes[node.id]) * node.attrs.inFeatures;
  }
  return n;
}
