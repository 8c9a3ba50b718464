// Rules side by side on one device: one Trainer per rule over the same data
// order and initial weights (same seed), taking turns. A turn queues a few
// steps of one rule back to back (two in flight, as trainLoop keeps them),
// then waits for the GPU once, so each rule's images/s is the time its own
// steps took. Loss windows and the alignment probe are read back
// asynchronously: their records arrive when the GPU gets there and no step
// waits for them. Test evaluation is the one point that waits, as in
// trainLoop. No DOM here: the demo page draws what `onRecord` hears.

import type { Runtime } from '../gpu/runtime.ts';
import type { Batch } from '../../datasets/pipeline.ts';
import type { Dataset } from '../../datasets/types.ts';
import { validateConfig, type TrainConfig } from '../train/config.ts';
import type { AlignmentRecord, TestRecord, TrainRecord } from '../train/loop.ts';
import { Trainer } from '../train/trainer.ts';

export type RaceRecord = (TrainRecord | TestRecord | AlignmentRecord) & { rule: string };

export interface RaceOptions {
  /** Steps of one rule per turn. */
  turnSteps: number;
  /** Test evaluation every this many steps (0: never). */
  evalEvery: number;
  /** Stop every rule after this many steps (Infinity: run until paused). */
  maxSteps: number;
}

const IN_FLIGHT = 2;
/** Turns averaged into the images/s shown. */
const RATE_TURNS = 5;

export class Lane {
  private next: Promise<Batch> | null = null;
  private records: Promise<void> = Promise.resolve();
  private aligning = false;
  private hyperKey = '';
  private readonly turns: { images: number; seconds: number }[] = [];

  constructor(
    readonly rule: string,
    readonly trainer: Trainer,
  ) {}

  get step(): number {
    return this.trainer.program.step;
  }

  /** Images per second over the last few turns (0 before the first). */
  get imagesPerSecond(): number {
    const images = this.turns.reduce((a, t) => a + t.images, 0);
    const seconds = this.turns.reduce((a, t) => a + t.seconds, 0);
    return seconds > 0 ? images / seconds : 0;
  }

  private batchAt(step: number): Promise<Batch> {
    const spe = this.trainer.stepsPerEpoch;
    return this.trainer.trainLoader.batch(Math.floor(step / spe), step % spe);
  }

  /** Every record this lane has asked for, delivered. */
  settled(): Promise<void> {
    return this.records;
  }

  /**
   * Queues up to `steps` steps (fewer when `stop` says so between steps),
   * then waits for the GPU once. Returns the steps taken.
   */
  async turn(steps: number, opts: RaceOptions, onRecord: (r: RaceRecord) => void, stop: () => boolean): Promise<number> {
    const { rt, program, config: c } = this.trainer;
    const batchSize = c.batch_size;
    await rt.device.queue.onSubmittedWorkDone();
    const start = performance.now();
    const inflight: Promise<unknown>[] = [];
    let taken = 0;
    let last: Batch | null = null;
    for (; taken < steps && !stop(); taken++) {
      const step = program.step;
      const batch = await (this.next ?? this.batchAt(step));
      this.next = this.batchAt(step + 1);
      const hyper = this.trainer.hyperAt(step);
      const key = `${hyper.lr} ${hyper.momentum} ${hyper.weightDecay} ${hyper.nesterov}`;
      if (key !== this.hyperKey) {
        program.setHyper(hyper);
        this.hyperKey = key;
      }
      rt.write(program.pass.input, batch.input);
      rt.write(program.pass.target, batch.target);
      program.run();
      last = batch;
      inflight.push(rt.device.queue.onSubmittedWorkDone());
      if (inflight.length > IN_FLIGHT) await inflight.shift();
      if (program.step % c.log_every === 0) this.closeWindow(onRecord);
    }
    if (program.step >= opts.maxSteps) this.closeWindow(onRecord);
    await rt.device.queue.onSubmittedWorkDone();
    rt.ctx.checkHealthy();
    if (taken > 0) {
      this.turns.push({ images: taken * batchSize, seconds: (performance.now() - start) / 1000 });
      if (this.turns.length > RATE_TURNS) this.turns.shift();
    }
    const step = program.step;
    const final = taken > 0 && step >= opts.maxSteps;
    const crossed = (every: number) => every > 0 && taken > 0 && (final || Math.floor(step / every) > Math.floor((step - taken) / every));
    // The probe measures after the turn (outside its timing); its readback resolves later.
    // Backprop's angles are 0 by definition (B is W, δ is δ_BP): no probe for it.
    if (last && this.rule !== 'bp' && crossed(c.align_every) && !this.aligning) this.align(last, onRecord);
    if (crossed(opts.evalEvery)) {
      const test = await this.trainer.evaluate();
      onRecord({ kind: 'test', rule: this.rule, step, epoch: step / this.trainer.stepsPerEpoch, ...withoutSamples(test) });
    }
    return taken;
  }

  private closeWindow(onRecord: (r: RaceRecord) => void): void {
    const { program } = this.trainer;
    const window = program.takeWindow();
    if (!window) return;
    const step = program.step;
    const lr = this.trainer.hyperAt(step - 1).lr;
    this.records = this.records.then(async () => {
      const m = await window;
      onRecord({
        kind: 'train',
        rule: this.rule,
        step,
        epoch: step / this.trainer.stepsPerEpoch,
        loss: m.lossSum / m.samples,
        top1_error: 1 - m.top1Correct / m.samples,
        lr,
        images_per_s: this.imagesPerSecond,
      });
    });
  }

  private align(batch: Batch, onRecord: (r: RaceRecord) => void): void {
    this.aligning = true;
    const step = this.step;
    const measured = this.trainer.align(batch.input, batch.target);
    this.records = this.records.then(async () => {
      try {
        const layers = await measured;
        onRecord({ kind: 'alignment', rule: this.rule, step, epoch: step / this.trainer.stepsPerEpoch, layers });
      } finally {
        this.aligning = false;
      }
    });
  }
}

function withoutSamples(t: { loss: number; top1_error: number; top5_error: number }) {
  return { loss: t.loss, top1_error: t.top1_error, top5_error: t.top5_error };
}

/** One config per rule: the base with its rule (so every lane has the same seed, data order and initial weights). */
export function laneConfigs(base: TrainConfig, rules: readonly string[]): TrainConfig[] {
  return rules.map((rule) => {
    const c: TrainConfig = { ...base, rule, optimizer: { ...base.optimizer } };
    validateConfig(c);
    return c;
  });
}

export class Race {
  private constructor(
    readonly rt: Runtime,
    readonly lanes: Lane[],
    readonly opts: RaceOptions,
  ) {}

  /** Compiles every rule's trainer (sequentially: one device), with fresh weights from the seed. */
  static async create(
    rt: Runtime,
    base: TrainConfig,
    dataset: Dataset,
    rules: readonly string[],
    opts: RaceOptions,
    onCompiled?: (rule: string) => void,
  ): Promise<Race> {
    const lanes: Lane[] = [];
    for (const c of laneConfigs(base, rules)) {
      const trainer = await Trainer.create(rt, c, dataset);
      trainer.initialise();
      await trainer.program.warmup();
      lanes.push(new Lane(c.rule, trainer));
      onCompiled?.(c.rule);
    }
    await rt.finish();
    return new Race(rt, lanes, opts);
  }

  get done(): boolean {
    return this.lanes.every((l) => l.step >= this.opts.maxSteps);
  }

  /** New learning rate and weight decay for every lane, from its next step on. */
  setOptimizer(lr: number, weightDecay: number): void {
    for (const l of this.lanes) {
      const o = l.trainer.config.optimizer;
      o.lr = lr;
      o.weight_decay = weightDecay;
    }
  }

  /** One turn per lane that has steps left. Returns false when there is nothing left to do. */
  async round(onRecord: (r: RaceRecord) => void, stop: () => boolean): Promise<boolean> {
    for (const lane of this.lanes) {
      if (stop()) return true;
      const left = this.opts.maxSteps - lane.step;
      if (left <= 0) continue;
      await lane.turn(Math.min(this.opts.turnSteps, left), this.opts, onRecord, stop);
    }
    return !this.done;
  }

  /** Resolves when every record asked for so far has been delivered. */
  async settled(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.settled()));
  }
}
