// The training loop: feeds the recorded step batch after batch and never
// waits for the GPU inside it, except to bound the steps in flight (so the
// queue cannot grow without bound) and at the points that need numbers
// (evaluation, the alignment probe, checkpoints). The loss window is read
// back asynchronously every log_every steps; its records reach the sink in
// step order. Platform-neutral: the sink writes files (Node) or draws
// figures (the browser).

import type { StepSnapshot } from '../graph/step-program.ts';
import type { LossMetrics } from '../kernels/softmax_cross_entropy.ts';
import { firstNonFinite, type CheckpointInfo } from './checkpoint.ts';
import type { TestResult } from './evaluate.ts';
import type { AlignmentLayer, Trainer } from './trainer.ts';

export interface TrainRecord {
  kind: 'train';
  step: number;
  epoch: number;
  loss: number;
  top1_error: number;
  lr: number;
  images_per_s: number;
}
export interface TestRecord extends Omit<TestResult, 'samples'> {
  kind: 'test';
  step: number;
  epoch: number;
}
export interface AlignmentRecord {
  kind: 'alignment';
  step: number;
  epoch: number;
  layers: AlignmentLayer[];
}
export type MetricRecord = TrainRecord | TestRecord | AlignmentRecord;

export interface LoopSink {
  record(r: MetricRecord): void | Promise<void>;
  /** A complete, finite state at a step boundary; `best` when its test error is the lowest yet. */
  checkpoint(snap: StepSnapshot, info: CheckpointInfo, best: boolean): void | Promise<void>;
  /** After every step (cheap: a progress bar). */
  progress?(step: number, total: number, last: TrainRecord | null): void;
  /** Polled between steps: stop cleanly (checkpoint, then return 'interrupted'). */
  stopRequested?(): boolean;
}

export type LoopEnd = { how: 'finished' | 'interrupted'; step: number } | { how: 'diverged'; step: number; what: string };

/**
 * Steps queued ahead of the GPU. Each queued step holds its batch in the
 * queue's staging memory, so the bound is the smaller of 8 steps and 256 MiB
 * of input (at least 2). Measured on lavapipe (resnet20, batch 128, 28²): 8 in
 * flight ran at 49–53 images/s where 2 ran at 45–51, against 51–53 for the
 * recorded step alone (nowt bench --models).
 */
function stepsInFlight(inputBytes: number): number {
  return Math.max(2, Math.min(8, Math.floor((256 * 2 ** 20) / inputBytes)));
}

/**
 * Trains from the program's current step to the end of the last epoch.
 * bestTop1Error is the lowest test error before this call (from the
 * checkpoint when resuming).
 */
export async function trainLoop(t: Trainer, sink: LoopSink, bestTop1Error: number | null): Promise<LoopEnd> {
  const { rt, program, config: c } = t;
  const spe = t.stepsPerEpoch;
  const total = t.totalSteps;
  const batchSize = c.batch_size;
  const epochOf = (s: number) => Math.floor(s / spe);
  const batchAt = (s: number) => t.trainLoader.batch(epochOf(s), s % spe);
  let best = bestTop1Error;
  let lr = t.hyperAt(program.step).lr;
  program.setHyper(t.hyperAt(program.step));

  // Window records, chained so they reach the sink in step order.
  let records: Promise<void> = Promise.resolve();
  let divergedAt: { step: number; what: string } | null = null;
  let lastTrain: TrainRecord | null = null;
  let clock = performance.now();
  const inflight: Promise<unknown>[] = [];
  const maxInFlight = stepsInFlight(program.pass.input.byteLength);
  const pause = async () => {
    await records;
    clock = performance.now();
  };
  const takeWindow = (step: number, steps: number, windowLr: number) => {
    const window = program.takeWindow();
    if (!window) return;
    records = records.then(async () => {
      const m: LossMetrics = await window;
      const now = performance.now();
      const seconds = (now - clock) / 1000;
      clock = now;
      const loss = m.lossSum / m.samples;
      if (!Number.isFinite(loss) && !divergedAt) divergedAt = { step, what: `loss ${loss} over steps ${step - steps + 1}–${step}` };
      const r: TrainRecord = {
        kind: 'train',
        step,
        epoch: Math.ceil(step / spe),
        loss,
        top1_error: 1 - m.top1Correct / m.samples,
        lr: windowLr,
        images_per_s: seconds > 0 ? (steps * batchSize) / seconds : 0,
      };
      lastTrain = r;
      await sink.record(r);
    });
  };
  /** A checkpoint, unless the run has diverged: never from non-finite state. */
  const checkpoint = async (step: number, isBest: boolean): Promise<void> => {
    await pause();
    if (divergedAt) return;
    const snap = await program.snapshot();
    const bad = firstNonFinite(snap);
    if (bad) {
      divergedAt = { step, what: `${bad} holds a non-finite value` };
      return;
    }
    await sink.checkpoint(snap, { config: c, step, epoch: epochOf(step), position: step % spe, bestTop1Error: best }, isBest);
    clock = performance.now();
  };

  let step = program.step;
  let windowStart = step - (step % c.log_every);
  let next = step < total ? batchAt(step) : null;
  while (step < total) {
    if (divergedAt) break;
    if (sink.stopRequested?.()) {
      // The open loss window is part of the snapshot: a resumed run closes it where this one would have.
      await checkpoint(step, false);
      await records;
      if (divergedAt) break;
      return { how: 'interrupted', step };
    }
    const batch = await next!;
    if (step + 1 < total) next = batchAt(step + 1);
    const hyper = t.hyperAt(step);
    if (hyper.lr !== lr) {
      lr = hyper.lr;
      program.setHyper(hyper);
    }
    rt.write(program.pass.input, batch.input);
    rt.write(program.pass.target, batch.target);
    program.run();
    step++;
    inflight.push(rt.device.queue.onSubmittedWorkDone());
    if (inflight.length > maxInFlight) await inflight.shift();

    if (step % c.log_every === 0 || step === total) {
      takeWindow(step, step - windowStart, lr);
      windowStart = step;
    }
    if (c.align_every > 0 && step % c.align_every === 0) {
      await pause();
      const layers = await t.align(batch.input, batch.target);
      await sink.record({ kind: 'alignment', step, epoch: Math.ceil(step / spe), layers });
      clock = performance.now();
    }
    const epochEnd = step % spe === 0;
    let isBest = false;
    if (epochEnd && (epochOf(step) % c.eval_every === 0 || step === total)) {
      await pause();
      if (divergedAt) break;
      const test = await t.evaluate();
      await sink.record({
        kind: 'test',
        step,
        epoch: epochOf(step),
        loss: test.loss,
        top1_error: test.top1_error,
        top5_error: test.top5_error,
      });
      if (Number.isFinite(test.top1_error) && (best === null || test.top1_error < best)) {
        best = test.top1_error;
        isBest = true;
      }
      clock = performance.now();
    }
    if (epochEnd || (c.checkpoint_every > 0 && step % c.checkpoint_every === 0)) await checkpoint(step, isBest);
    sink.progress?.(step, total, lastTrain);
  }
  await records;
  await rt.finish();
  if (divergedAt) {
    const d = divergedAt as { step: number; what: string };
    return { how: 'diverged', step: d.step, what: d.what };
  }
  return { how: 'finished', step };
}
