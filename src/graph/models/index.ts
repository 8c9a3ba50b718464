// The model registry: every model `nowt` can build, by name.

import { UnsupportedError, ShapeError } from '../../gpu/errors.ts';
import type { ModelOptions } from '../builder.ts';
import type { Graph } from '../ir.ts';
import { inferShapes } from '../shapes.ts';
import { resnet20, resnet32, resnet56 } from './cifar_resnet.ts';
import { mlp } from './mlp.ts';
import { resnet18, resnet34, resnet50 } from './resnet.ts';

export type { ModelOptions } from '../builder.ts';
export { resnet18, resnet34, resnet50 } from './resnet.ts';
export { cifarResnet, resnet20, resnet32, resnet56 } from './cifar_resnet.ts';
export { mlp, MLP_DEFAULT_HIDDEN, MLP_DEFAULT_INPUT_HW } from './mlp.ts';

export const MODELS: Readonly<Record<string, (o: ModelOptions) => Graph>> = {
  resnet18,
  resnet34,
  resnet50,
  resnet20,
  resnet32,
  resnet56,
  mlp,
};

export const MODEL_NAMES: readonly string[] = Object.keys(MODELS);

/**
 * Builds a model by name. Throws UnsupportedError for an unknown name (listing
 * the known ones) and ShapeError for bad options; with `inputHW`, also checks
 * that the model takes that image size.
 */
export function buildModel(name: string, o: ModelOptions): Graph {
  const make = Object.hasOwn(MODELS, name) ? MODELS[name] : undefined;
  if (!make) throw new UnsupportedError(`buildModel(): unknown model '${name}'; known models: ${MODEL_NAMES.join(', ')}`);
  if (o.hidden !== undefined && name !== 'mlp') throw new ShapeError(`${name}: hidden sizes are an mlp option; ${name} takes none`);
  const graph = make(o);
  if (o.inputHW) inferShapes(graph, 1, o.inputHW);
  return graph;
}
