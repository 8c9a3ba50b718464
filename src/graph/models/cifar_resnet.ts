// CIFAR-style ResNets (He et al. 2016, §4.2): conv1 3×3 with 16 channels,
// three stages of n BasicBlocks with 16/32/64 channels (stride 2 entering the
// second and third), global average pooling and `fc`; depth = 6n + 2. The
// shortcut where the shape changes is a 1×1 conv + bn (the paper's option B)
// named `downsample.0/.1` as torchvision's, and everything else follows
// torchvision's names (conv1, bn1, layer1..layer3, fc).

import { checkModelOptions, GraphBuilder, type ModelOptions } from '../builder.ts';
import type { Graph } from '../ir.ts';
import { ShapeError } from '../../gpu/errors.ts';
import { basicBlock, stage } from './resnet.ts';

export function cifarResnet(depth: number, o: ModelOptions): Graph {
  const model = `resnet${depth}`;
  if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
    throw new ShapeError(`cifarResnet(): depth=${depth} must be 6n + 2 with n ≥ 1 (20, 32, 44, 56, 110, …)`);
  }
  checkModelOptions(model, o);
  const n = (depth - 2) / 6;
  const g = new GraphBuilder(model);
  let x = g.input([o.inChannels, null, null]);
  x = g.conv2d(x, 'conv1', { out: 16, kernel: 3, pad: 1 });
  x = g.relu(g.batchnorm(x, 'bn1'), 'relu');
  [16, 32, 64].forEach((planes, i) => {
    x = stage(g, x, `layer${i + 1}`, basicBlock, planes, n, i === 0 ? 1 : 2);
  });
  x = g.globalAvgPool(x, 'avgpool');
  return g.build(g.linear(x, 'fc', { out: o.numClasses }));
}

export const resnet20 = (o: ModelOptions): Graph => cifarResnet(20, o);
export const resnet32 = (o: ModelOptions): Graph => cifarResnet(32, o);
export const resnet56 = (o: ModelOptions): Graph => cifarResnet(56, o);
