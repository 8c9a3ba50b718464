// A multilayer perceptron baseline: flatten the image, then fc1, fc2, … with
// ReLU between, and `fc` to the classes. No batchnorm, no conv; its linear
// layers are the weight layers the rules act on. Built for one image size.

import { checkModelOptions, GraphBuilder, type ModelOptions } from '../builder.ts';
import type { Graph } from '../ir.ts';
import { ShapeError } from '../../gpu/errors.ts';

export const MLP_DEFAULT_HIDDEN: readonly number[] = [256, 256];
export const MLP_DEFAULT_INPUT_HW: readonly [number, number] = [28, 28];

export function mlp(o: ModelOptions): Graph {
  checkModelOptions('mlp', o);
  const hidden = o.hidden ?? MLP_DEFAULT_HIDDEN;
  const [h, w] = o.inputHW ?? MLP_DEFAULT_INPUT_HW;
  hidden.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 1) throw new ShapeError(`mlp: hidden[${i}]=${d} must be a positive integer`);
  });
  const g = new GraphBuilder('mlp');
  let x = g.flatten(g.input([o.inChannels, h, w]), 'flatten');
  hidden.forEach((width, i) => {
    x = g.relu(g.linear(x, `fc${i + 1}`, { out: width }), `relu${i + 1}`);
  });
  return g.build(g.linear(x, 'fc', { out: o.numClasses }));
}
