// What a run trains with, put together once from its config and dataset: the
// model, the recorded training step, the evaluation pass (BN on running
// statistics) and the alignment probe, over one set of parameter arenas.
// Platform-neutral: the Node run folder and the browser demo both drive it.

import type { Runtime } from '../gpu/runtime.ts';
import { AlignmentProbe, type LayerAlignment } from '../graph/alignment.ts';
import { compilePass, type CompiledPass } from '../graph/compile.ts';
import { weightLayers, type Graph } from '../graph/ir.ts';
import { modelFor } from './model.ts';
import { initialState, loadState } from '../graph/state.ts';
import { StepProgram } from '../graph/step-program.ts';
import type { SgdHyper } from '../kernels/sgd.ts';
import { ruleByName } from '../rules/index.ts';
import { BatchLoader } from '../../datasets/pipeline.ts';
import type { Dataset } from '../../datasets/types.ts';
import { mirrorOptions, type TrainConfig } from './config.ts';
import { evaluatePass, testLoader, type TestResult } from './evaluate.ts';
import { learningRate } from './schedule.ts';

export interface AlignmentLayer extends LayerAlignment {
  /** The first weight layer: no pass reads its B, so its weight angle says nothing about learning. */
  unused?: boolean;
}

export class Trainer {
  private constructor(
    readonly rt: Runtime,
    readonly config: TrainConfig,
    readonly dataset: Dataset,
    readonly graph: Graph,
    readonly program: StepProgram,
    readonly evalPass: CompiledPass,
    readonly probe: AlignmentProbe | null,
    readonly trainLoader: BatchLoader,
    readonly testLoader: BatchLoader,
  ) {}

  static async create(rt: Runtime, config: TrainConfig, dataset: Dataset): Promise<Trainer> {
    const graph = modelFor(config, dataset);
    const rule = ruleByName(config.rule, { mirror: mirrorOptions(config) });
    const inputHW = dataset.imageSize;
    const batch = config.batch_size;
    // The data first: a split smaller than one batch is refused before anything is allocated.
    const trainLoader = new BatchLoader(dataset, 'train', {
      batchSize: batch,
      seed: config.seed,
      shuffle: true,
      augment: true,
      dropLast: true,
    });
    const tests = testLoader(dataset, config);
    const program = await StepProgram.compile(rt, graph, { batch, inputHW, rule, hyper: hyperAt(config, 0, 1), mode: 'train' });
    const evalPass = await compilePass(rt, graph, program.store, { batch, inputHW, evalStats: true });
    const probe = config.align_every > 0 ? await AlignmentProbe.compile(rt, graph, program.store, batch, inputHW) : null;
    return new Trainer(rt, config, dataset, graph, program, evalPass, probe, trainLoader, tests);
  }

  get stepsPerEpoch(): number {
    return this.trainLoader.batchesPerEpoch;
  }

  get totalSteps(): number {
    return this.config.epochs * this.stepsPerEpoch;
  }

  /** Fresh weights (torchvision's initialisation from the run's seed; B from a seed of its own). */
  initialise(): void {
    const withFeedback = this.program.rule.feedbackInCheckpoint;
    loadState(this.rt, this.program.store, initialState(this.graph, this.config.seed, withFeedback), 'initial state', withFeedback);
  }

  /** SGD's settings for the step after `step` steps. */
  hyperAt(step: number): SgdHyper {
    return hyperAt(this.config, step, this.stepsPerEpoch);
  }

  /** Test loss and top-1/top-5 error, BN on running statistics: one readback at the end. */
  evaluate(): Promise<TestResult> {
    return evaluatePass(this.rt, this.evalPass, this.testLoader);
  }

  /** The alignment probe on one batch (its own passes; BN statistics and training state untouched). */
  async align(input: Float32Array, target: Int32Array): Promise<AlignmentLayer[]> {
    if (!this.probe) return [];
    const layers: AlignmentLayer[] = await this.probe.measure(input, target);
    const first = weightLayers(this.graph)[0]?.name;
    return layers.map((l) => (l.name === first ? { ...l, unused: true } : l));
  }
}

function hyperAt(c: TrainConfig, step: number, stepsPerEpoch: number): SgdHyper {
  const o = c.optimizer;
  return {
    lr: learningRate(c.schedule, { baseLr: o.lr, stepsPerEpoch, epochs: c.epochs }, step),
    momentum: o.momentum,
    weightDecay: o.weight_decay,
    nesterov: o.nesterov,
    firstStep: step === 0,
  };
}
