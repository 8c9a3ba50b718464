// Test-set evaluation: the evaluation pass (forward and loss, BN on running
// statistics) over every test batch, the loss and top-k hits summed on the
// GPU across batches, one readback at the end. Padding rows (target −1)
// count nowhere. Also `nowt eval`'s checkpoint evaluation.

import type { Runtime } from '../gpu/runtime.ts';
import { compilePass, type CompiledPass } from '../graph/compile.ts';
import { ParamStore } from '../graph/params.ts';
import { loadState, type HostTensor } from '../graph/state.ts';
import { decodeLossMetrics } from '../kernels/softmax_cross_entropy.ts';
import { BatchLoader } from '../../datasets/pipeline.ts';
import type { Dataset } from '../../datasets/types.ts';
import type { StepSnapshot } from '../graph/step-program.ts';
import type { TrainConfig } from './config.ts';
import { modelFor } from './model.ts';

export interface TestResult {
  loss: number;
  top1_error: number;
  top5_error: number;
  samples: number;
}

export async function evaluatePass(rt: Runtime, pass: CompiledPass, loader: BatchLoader): Promise<TestResult> {
  const program = rt.record(pass.dispatches);
  let next = loader.batch(0, 0);
  for (let i = 0; i < loader.batchesPerEpoch; i++) {
    const b = await next;
    if (i + 1 < loader.batchesPerEpoch) next = loader.batch(0, i + 1);
    rt.write(pass.input, b.input);
    rt.write(pass.target, b.target);
    pass.loss.set({ accumulate: i > 0 });
    program.run();
  }
  const m = decodeLossMetrics(await rt.readF32(pass.metrics));
  const n = m.samples - m.invalidTargets;
  return { loss: m.lossSum / n, top1_error: 1 - m.top1Correct / n, top5_error: 1 - m.top5Correct / n, samples: n };
}

export function testLoader(dataset: Dataset, config: TrainConfig): BatchLoader {
  return new BatchLoader(dataset, 'test', {
    batchSize: config.batch_size,
    seed: config.seed,
    shuffle: false,
    augment: false,
    dropLast: false,
  });
}

/** A checkpoint's weights and BN statistics on a dataset's test split (its optimizer and rule state are not needed). */
export async function evaluateSnapshot(
  rt: Runtime,
  config: TrainConfig,
  dataset: Dataset,
  snap: StepSnapshot,
  source: string,
): Promise<TestResult> {
  const graph = modelFor(config, dataset);
  const store = new ParamStore(rt, graph, { momentum: false, feedback: 'weight', feedbackMomentum: false });
  const tensors = new Map<string, HostTensor>();
  for (const [name, t] of snap.tensors) {
    if (name.startsWith('optim.') || name.startsWith('state.') || name.startsWith('feedback.')) continue;
    if (t.data instanceof Float32Array) tensors.set(name, { shape: t.shape, data: t.data });
  }
  loadState(rt, store, tensors, source, false);
  const pass = await compilePass(rt, graph, store, { batch: config.batch_size, inputHW: dataset.imageSize, evalStats: true });
  return evaluatePass(rt, pass, testLoader(dataset, config));
}
