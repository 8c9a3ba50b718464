// `nowt step`: one forward and feedback pass on one batch, no update
// (INTERFACES.md). Writes the mean loss, the logits and every parameter's
// gradient in PyTorch layout.

import { ShapeError } from '../gpu/errors.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { buildModel, MODEL_NAMES } from '../graph/models/index.ts';
import { loadState, type HostTensor } from '../graph/state.ts';
import { StepProgram } from '../graph/step-program.ts';
import { readSafetensorsFile, writeSafetensorsFile } from '../io/node-safetensors.ts';
import { getTensor, toFloat32, toInt32, type TensorToWrite } from '../io/safetensors.ts';
import { decodeLossMetrics } from '../kernels/softmax_cross_entropy.ts';
import { RULE_NAMES, ruleByName } from '../rules/index.ts';
import { UsageError } from './usage.ts';

export const STEP_HELP = `nowt step — one forward and feedback pass on one batch, no update

Usage: nowt step --model NAME --num-classes K --in-channels C --rule RULE
                 --weights W.safetensors --batch BATCH.safetensors --out OUT.safetensors

  --model NAME        ${MODEL_NAMES.join(', ')}
  --num-classes K     classifier outputs
  --in-channels C     image channels (1 for Fashion-MNIST, 3 for CIFAR/ImageNet)
  --rule RULE         ${RULE_NAMES.join(', ')}: which tensor each layer's feedback pass reads
  --weights FILE      parameters and BN buffers in torchvision's names; feedback.<weight>
                      tensors for fa, wm and kp (bp and ss derive B and ignore them)
  --batch FILE        input (F32, N×C×H×W) and target (I64 or I32, N)
  --out FILE          written: loss (F32 scalar, mean cross-entropy), logits (N×K) and
                      grad.<name> for every trainable parameter, in PyTorch layout
  --adapter NAME      pick an adapter by a substring of its name
BN runs in training mode (batch statistics).
`;

export interface StepArgs {
  model?: string;
  numClasses?: string;
  inChannels?: string;
  rule?: string;
  weights?: string;
  batch?: string;
  out?: string;
  hidden?: string;
}

function required(name: string, v: string | undefined): string {
  if (v === undefined || v === '') throw new UsageError(`nowt step: --${name} is required. See \`nowt step --help\`.`);
  return v;
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`nowt step: --${name} must be a positive integer (got "${v}")`);
  return n;
}

/** Every flag checked before a device is acquired: a typo fails at once. */
export function parseStepArgs(args: StepArgs) {
  const modelName = required('model', args.model);
  const numClasses = positiveInt('num-classes', required('num-classes', args.numClasses));
  const inChannels = positiveInt('in-channels', required('in-channels', args.inChannels));
  const rule = ruleByName(required('rule', args.rule));
  const weightsPath = required('weights', args.weights);
  const batchPath = required('batch', args.batch);
  const outPath = required('out', args.out);
  const hidden = args.hidden?.split(',').map((h) => positiveInt('hidden', h));
  const graph = buildModel(modelName, { numClasses, inChannels, ...(hidden ? { hidden } : {}) });
  return { modelName, numClasses, inChannels, rule, weightsPath, batchPath, outPath, graph };
}

export async function step(rt: Runtime, args: StepArgs): Promise<void> {
  const { modelName, numClasses, inChannels, rule, weightsPath, batchPath, outPath, graph } = parseStepArgs(args);

  const batchFile = readSafetensorsFile(batchPath);
  const inputEntry = getTensor(batchFile, 'input');
  const targetEntry = getTensor(batchFile, 'target');
  const shape = inputEntry.shape;
  if (shape.length !== 4 || shape[1] !== inChannels) {
    throw new ShapeError(
      `${batchPath}: input is [${shape.join(', ')}]; ${modelName} with --in-channels ${inChannels} needs N×${inChannels}×H×W`,
    );
  }
  const [n, , h, w] = shape;
  if (targetEntry.shape.length !== 1 || targetEntry.shape[0] !== n) {
    throw new ShapeError(`${batchPath}: target is [${targetEntry.shape.join(', ')}]; it needs one class index per input: [${n}]`);
  }
  const input = toFloat32(inputEntry);
  const target = toInt32(targetEntry);
  const bad = target.findIndex((t) => t < 0 || t >= numClasses);
  if (bad >= 0) throw new ShapeError(`${batchPath}: target[${bad}]=${target[bad]} is not a class index in [0, ${numClasses})`);

  const weightsFile = readSafetensorsFile(weightsPath);
  const tensors = new Map<string, HostTensor>();
  for (const [name, e] of weightsFile.tensors) {
    if (name.endsWith('.num_batches_tracked')) continue;
    if (name.startsWith('feedback.') && !rule.feedbackInCheckpoint) continue;
    tensors.set(name, { shape: e.shape, data: toFloat32(e) });
  }

  const hyper = { lr: 0, momentum: 0, weightDecay: 0, nesterov: false, firstStep: true };
  const prog = await StepProgram.compile(rt, graph, { batch: n, inputHW: [h, w], rule, hyper, mode: 'grads' });
  loadState(rt, prog.store, tensors, weightsPath, rule.feedbackInCheckpoint);
  rt.write(prog.pass.input, input);
  rt.write(prog.pass.target, target);
  prog.run();

  const metrics = decodeLossMetrics(await rt.readF32(prog.pass.metrics));
  const logits = await rt.readF32(prog.pass.logits);
  const out: Record<string, TensorToWrite> = {
    loss: { dtype: 'F32', shape: [], data: Float32Array.of(metrics.loss) },
    logits: { dtype: 'F32', shape: prog.pass.logits.shape, data: logits },
  };
  for (const arena of Object.values(prog.store.arenas)) {
    if (arena.names.length === 0) continue;
    const all = await rt.readF32(arena.grads);
    arena.names.forEach((name, i) => {
      const seg = arena.layout.segments[i];
      out[`grad.${name}`] = { dtype: 'F32', shape: graph.params.get(name)!.shape, data: all.slice(seg.offset, seg.offset + seg.length) };
    });
  }
  writeSafetensorsFile(outPath, out);
  console.log(`loss ${metrics.loss.toFixed(6)}  (${n} samples, rule ${rule.name}); wrote ${outPath}`);
}
