// torchvision's ResNet-18/34/50 (v1.5: Bottleneck strides on its 3×3), with
// its exact module structure and state_dict names, so checkpoints load into
// torchvision.models.resnetNN(num_classes=…) with load_state_dict. Blocks are
// built in torchvision's registration order (main branch, then downsample),
// which makes stateDict() list entries in torchvision's order too.

import { checkModelOptions, GraphBuilder, type ModelOptions } from '../builder.ts';
import type { Graph } from '../ir.ts';

/** conv3×3 → bn → relu → conv3×3 → bn, + identity (or 1×1 conv + bn when the shape changes), → relu. */
export function basicBlock(g: GraphBuilder, x: number, prefix: string, planes: number, stride: number): number {
  const inplanes = g.shape(x)[1];
  let y = g.conv2d(x, `${prefix}.conv1`, { out: planes, kernel: 3, stride, pad: 1 });
  y = g.relu(g.batchnorm(y, `${prefix}.bn1`), `${prefix}.relu1`);
  y = g.conv2d(y, `${prefix}.conv2`, { out: planes, kernel: 3, pad: 1 });
  y = g.batchnorm(y, `${prefix}.bn2`);
  const identity = stride !== 1 || inplanes !== planes ? downsample(g, x, prefix, planes, stride) : x;
  return g.relu(g.add(y, identity, `${prefix}.add`), `${prefix}.relu2`);
}

/** 1×1 → 3×3 (carries the stride) → 1×1 expanding to 4·planes, each with bn; relu after the first two and after the sum. */
export function bottleneck(g: GraphBuilder, x: number, prefix: string, planes: number, stride: number): number {
  const inplanes = g.shape(x)[1];
  const out = planes * BOTTLENECK_EXPANSION;
  let y = g.conv2d(x, `${prefix}.conv1`, { out: planes, kernel: 1 });
  y = g.relu(g.batchnorm(y, `${prefix}.bn1`), `${prefix}.relu1`);
  y = g.conv2d(y, `${prefix}.conv2`, { out: planes, kernel: 3, stride, pad: 1 });
  y = g.relu(g.batchnorm(y, `${prefix}.bn2`), `${prefix}.relu2`);
  y = g.conv2d(y, `${prefix}.conv3`, { out, kernel: 1 });
  y = g.batchnorm(y, `${prefix}.bn3`);
  const identity = stride !== 1 || inplanes !== out ? downsample(g, x, prefix, out, stride) : x;
  return g.relu(g.add(y, identity, `${prefix}.add`), `${prefix}.relu3`);
}

export const BOTTLENECK_EXPANSION = 4;

/** The projection shortcut: `downsample.0` 1×1 conv with the block's stride, `downsample.1` bn. */
function downsample(g: GraphBuilder, x: number, prefix: string, out: number, stride: number): number {
  const y = g.conv2d(x, `${prefix}.downsample.0`, { out, kernel: 1, stride });
  return g.batchnorm(y, `${prefix}.downsample.1`);
}

export type Block = typeof basicBlock;

/** A stage `layer<i>`: `blocks` blocks, the first with `stride`. */
export function stage(g: GraphBuilder, x: number, name: string, block: Block, planes: number, blocks: number, stride: number): number {
  for (let i = 0; i < blocks; i++) x = block(g, x, `${name}.${i}`, planes, i === 0 ? stride : 1);
  return x;
}

/** torchvision.models.resnet.ResNet(block, layers, num_classes) with in_channels conv1 inputs. */
export function imagenetResnet(model: string, block: Block, layers: readonly number[], o: ModelOptions): Graph {
  checkModelOptions(model, o);
  const g = new GraphBuilder(model);
  let x = g.input([o.inChannels, null, null]);
  x = g.conv2d(x, 'conv1', { out: 64, kernel: 7, stride: 2, pad: 3 });
  x = g.relu(g.batchnorm(x, 'bn1'), 'relu');
  x = g.maxpool(x, 'maxpool', { k: 3, stride: 2, pad: 1 });
  [64, 128, 256, 512].forEach((planes, i) => {
    x = stage(g, x, `layer${i + 1}`, block, planes, layers[i], i === 0 ? 1 : 2);
  });
  x = g.globalAvgPool(x, 'avgpool');
  return g.build(g.linear(x, 'fc', { out: o.numClasses }));
}

export const resnet18 = (o: ModelOptions): Graph => imagenetResnet('resnet18', basicBlock, [2, 2, 2, 2], o);
export const resnet34 = (o: ModelOptions): Graph => imagenetResnet('resnet34', basicBlock, [3, 4, 6, 3], o);
export const resnet50 = (o: ModelOptions): Graph => imagenetResnet('resnet50', bottleneck, [3, 4, 6, 3], o);
