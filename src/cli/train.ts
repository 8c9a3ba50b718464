// `nowt train` and `nowt eval`: one model under one rule on a dataset, into a
// run folder; and a checkpoint's test loss and error.

import { join } from 'node:path';
import type { Runtime } from '../gpu/runtime.ts';
import { buildReport } from '../report/node-report.ts';
import { validateConfig, type TrainConfig } from '../train/config.ts';
import { evaluateSnapshot } from '../train/evaluate.ts';
import { openRunDataset, readCheckpoint, runTraining } from '../train/node-run.ts';
import { configFromFlags, parseTrainFlag, trainFlagsHelp } from './train-flags.ts';
import { trainUi } from './train-ui.ts';
import { UsageError } from './usage.ts';

export const TRAIN_HELP = `nowt train — train one model under one learning rule

Usage: nowt train [--model NAME] [--dataset NAME] [--rule RULE] [--epochs N] [-b N] [--lr X] … --out DIR

Writes into --out: config.json, metrics.jsonl, checkpoint.safetensors (the last
state, written at every epoch's end, every --checkpoint-every steps and on
SIGINT/SIGTERM), best.safetensors (lowest test top-1 error) and report.html.

${trainFlagsHelp()}
  --config FILE         an earlier run's config.json (the same run again); flags override it
  --out DIR             the run folder (default runs/<dataset>-<model>-<rule>)
  --resume              continue the run in --out from its checkpoint, exactly
  --adapter NAME        pick an adapter by a substring of its name

Exit status: 0 finished, 130 interrupted (checkpoint written), 3 diverged
(non-finite loss; the last good checkpoint is kept), 2 bad input.
`;

export const EVAL_HELP = `nowt eval — a checkpoint's test loss and top-1/top-5 error (BN in eval mode)

Usage: nowt eval --checkpoint FILE [--dataset NAME] [--data DIR] [--limit-test N] [-b N] [--json]

The dataset, its limits and the batch size default to the checkpoint's run.
`;

export const EXIT_INTERRUPTED = 130;
export const EXIT_DIVERGED = 3;

export interface TrainArgs {
  config: TrainConfig;
  explicit: Set<string>;
  out: string;
  resume: boolean;
}

/** Every flag checked before a device is acquired: a typo fails at once. */
export function parseTrainArgs(values: Record<string, string | boolean | undefined>): TrainArgs {
  const { config, explicit } = configFromFlags(values);
  const out = typeof values.out === 'string' ? values.out : `runs/${config.dataset}-${config.model}-${config.rule}`;
  return { config, explicit, out, resume: values.resume === true };
}

export async function trainCommand(rt: Runtime, { config, explicit, out, resume }: TrainArgs): Promise<number> {
  let stop = false;
  const onSignal = (sig: string) => {
    if (stop) return;
    stop = true;
    process.stderr.write(`\n${sig}: stopping after this step and writing a checkpoint…\n`);
  };
  const handlers = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM') };
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
  try {
    const { end } = await runTraining(rt, {
      config,
      out,
      resume,
      explicit,
      ui: trainUi(config.rule),
      stopRequested: () => stop,
    });
    // The run folder's report (INTERFACES.md), from its files alone, whatever the ending.
    await buildReport([out], join(out, 'report.html'));
    if (end.how === 'interrupted') {
      console.error(`interrupted at step ${end.step}; resume with: nowt train --out ${out} --resume`);
      return EXIT_INTERRUPTED;
    }
    if (end.how === 'diverged') {
      console.error(`error: diverged at step ${end.step} (${end.what}); ${out}/checkpoint.safetensors holds the last good state`);
      return EXIT_DIVERGED;
    }
    console.log(`finished ${end.step} steps; the run is in ${out} (report: ${join(out, 'report.html')})`);
    return 0;
  } finally {
    process.off('SIGINT', handlers.SIGINT);
    process.off('SIGTERM', handlers.SIGTERM);
  }
}

export async function evalCommand(rt: Runtime, values: Record<string, string | boolean | undefined>): Promise<number> {
  if (typeof values.checkpoint !== 'string') throw new UsageError('nowt eval: --checkpoint FILE is required. See `nowt eval --help`.');
  const { snapshot, info } = readCheckpoint(values.checkpoint);
  // The checkpoint's run, with the few flags eval takes on top.
  const merged: TrainConfig = { ...info.config };
  const given = (k: string) => values[k] as string | boolean | undefined;
  if (given('dataset') !== undefined) merged.dataset = parseTrainFlag('dataset', given('dataset')!) as string;
  if (given('data') !== undefined) merged.data = parseTrainFlag('data', given('data')!) as string;
  if (given('limit-test') !== undefined) merged.limit_test = parseTrainFlag('limit-test', given('limit-test')!) as number;
  if (given('batch-size') !== undefined) merged.batch_size = parseTrainFlag('batch-size', given('batch-size')!) as number;
  validateConfig(merged);
  const dataset = await openRunDataset(merged);
  const r = await evaluateSnapshot(rt, merged, dataset, snapshot, values.checkpoint);
  const out = {
    checkpoint: values.checkpoint,
    step: info.step,
    dataset: merged.dataset,
    samples: r.samples,
    loss: r.loss,
    top1_error: r.top1_error,
    top5_error: r.top5_error,
  };
  if (values.json) console.log(JSON.stringify(out));
  else
    console.log(
      `${values.checkpoint} (step ${info.step}) on ${merged.dataset} test (${r.samples} images): loss ${r.loss.toFixed(4)}, top-1 error ${(100 * r.top1_error).toFixed(2)}%, top-5 error ${(100 * r.top5_error).toFixed(2)}%`,
    );
  return 0;
}
