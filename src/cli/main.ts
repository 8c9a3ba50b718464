// The `nowt` command line: dispatches to one command, turns known errors into
// a one-paragraph message and a non-zero exit, and always releases the device
// so the process exits promptly.

import { NowtError } from '../gpu/errors.ts';
import { setDebugFlags } from '../gpu/flags.ts';
import { createNodeRuntime } from '../gpu/node-runtime.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { INFO_HELP, adapterLine, printInfo } from './info.ts';
import { DEFAULT_CONFIG, mergeConfig } from '../train/config.ts';
import { COMPARE_HELP, compare, parseRules } from './compare.ts';
import { PRESETS, posterPreset } from './presets.ts';
import { REPORT_HELP, reportCommand } from './report.ts';
import { STEP_HELP, parseStepArgs, step } from './step.ts';
import { EVAL_HELP, TRAIN_HELP, evalCommand, parseTrainArgs, trainCommand } from './train.ts';
import { configFromFlags, trainOptionSpecs } from './train-flags.ts';
import { COMMON_OPTIONS, UsageError, parseCommand } from './usage.ts';

const MAIN_HELP = `nowt — train and compare learning rules without weight transport, on WebGPU

Usage: nowt <command> [options]

Commands:
  train    train one model under one rule on a dataset, into a run folder
  compare  the same experiment under several rules, then one report
  eval     a checkpoint's test loss and top-1/top-5 error
  report   the HTML report (figures, tables) of run folders
  info     the WebGPU adapter, its limits and features
  bench    kernel throughput next to the adapter's FMA peak and tfjs-backend-webgpu
  step     one forward and feedback pass on one batch (gradients under a rule), no update

Every command takes --help, --adapter NAME (or NOWT_ADAPTER) and --debug LIST
(force-tiled-matmul, force-portable-conv, print-shaders, validate; or NOWT_DEBUG).
`;

async function withRuntime(adapter: string | undefined, fn: (rt: Runtime) => Promise<void>): Promise<void> {
  const rt = await createNodeRuntime({ adapter });
  try {
    await fn(rt);
  } finally {
    rt.destroy();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (process.env.NOWT_DEBUG) setDebugFlags(process.env.NOWT_DEBUG);
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        console.log(MAIN_HELP);
        return command === undefined ? 1 : 0;
      case 'info': {
        const { values } = parseCommand('info', rest, { ...COMMON_OPTIONS, json: { type: 'boolean' } });
        if (values.help) return (void console.log(INFO_HELP), 0);
        if (values.debug) setDebugFlags(values.debug);
        await withRuntime(values.adapter, async (rt) => printInfo(rt, values.json ?? false));
        return 0;
      }
      case 'train': {
        const { values } = parseCommand('train', rest, {
          ...COMMON_OPTIONS,
          ...trainOptionSpecs(),
          out: { type: 'string' },
          resume: { type: 'boolean' },
        });
        if (values.help) return (void console.log(TRAIN_HELP), 0);
        if (values.debug) setDebugFlags(values.debug);
        const args = parseTrainArgs(values);
        let code = 0;
        await withRuntime(values.adapter, async (rt) => {
          console.log(adapterLine(rt));
          code = await trainCommand(rt, args);
        });
        return code;
      }
      case 'compare': {
        const { values } = parseCommand('compare', rest, {
          ...COMMON_OPTIONS,
          ...trainOptionSpecs(),
          rules: { type: 'string' },
          preset: { type: 'string' },
          out: { type: 'string' },
          resume: { type: 'boolean' },
        });
        if (values.help) return (void console.log(COMPARE_HELP), 0);
        if (values.debug) setDebugFlags(values.debug);
        const rules = parseRules(values.rules);
        let base = DEFAULT_CONFIG;
        if (values.preset !== undefined) {
          if (values.preset !== 'poster')
            throw new UsageError(`--preset: "${values.preset}" is not a preset (known: ${PRESETS.join(', ')})`);
          // Sized by the adapter: one look at it before anything else.
          const probe = await createNodeRuntime({ adapter: values.adapter });
          console.log(adapterLine(probe));
          base = mergeConfig(DEFAULT_CONFIG, posterPreset(probe.ctx.isCpu));
          probe.destroy();
        }
        const { config, explicit } = configFromFlags(values, base);
        const out = values.out ?? `runs/compare-${config.dataset}-${config.model}`;
        let stop = false;
        const onSignal = () => {
          if (!stop) process.stderr.write('\nstopping after this step and writing a checkpoint…\n');
          stop = true;
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        try {
          return await compare(
            { config, explicit, rules, out, resume: values.resume === true },
            { newRuntime: () => createNodeRuntime({ adapter: values.adapter }), stopRequested: () => stop },
          );
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }
      case 'eval': {
        const { values } = parseCommand('eval', rest, {
          ...COMMON_OPTIONS,
          checkpoint: { type: 'string' },
          dataset: { type: 'string' },
          data: { type: 'string' },
          'limit-test': { type: 'string' },
          'batch-size': { type: 'string', short: 'b' },
          json: { type: 'boolean' },
        });
        if (values.help) return (void console.log(EVAL_HELP), 0);
        if (values.debug) setDebugFlags(values.debug);
        await withRuntime(values.adapter, async (rt) => {
          if (!values.json) console.log(adapterLine(rt));
          await evalCommand(rt, values);
        });
        return 0;
      }
      case 'report': {
        const { values, positionals } = parseCommand(
          'report',
          rest,
          { help: { type: 'boolean', short: 'h' }, out: { type: 'string' } },
          true,
        );
        if (values.help) return (void console.log(REPORT_HELP), 0);
        if (positionals.length === 0) throw new UsageError('nowt report: give one or more run folders. See `nowt report --help`.');
        const written = await reportCommand({ dirs: positionals, out: values.out });
        console.log(`report: ${written}`);
        return 0;
      }
      case 'bench': {
        const { values } = parseCommand('bench', rest, {
          ...COMMON_OPTIONS,
          kernels: { type: 'boolean' },
          models: { type: 'boolean' },
          'model-list': { type: 'string' },
          rules: { type: 'string' },
          convs: { type: 'string' },
          'conv-batch': { type: 'string' },
          'conv-image': { type: 'string' },
          tune: { type: 'boolean' },
          'tune-max': { type: 'string' },
          tuning: { type: 'string' },
          'model-batch': { type: 'string' },
          'model-image': { type: 'string' },
          'model-channels': { type: 'string' },
          'model-classes': { type: 'string' },
          sizes: { type: 'string' },
          'no-peers': { type: 'boolean' },
          json: { type: 'string' },
        });
        // The benchmark's tfjs peer is a devDependency: loaded only here.
        const { BENCH_HELP, bench } = await import('./bench.ts');
        if (values.help) return (void console.log(BENCH_HELP), 0);
        if (values.debug) setDebugFlags(values.debug);
        const args = {
          kernels: values.kernels ?? false,
          models: values.models ?? false,
          modelList: values['model-list'],
          rules: values.rules,
          convs: values.convs,
          convBatch: values['conv-batch'],
          convImage: values['conv-image'],
          tune: values.tune ?? false,
          tuneMax: values['tune-max'],
          tuning: values.tuning,
          modelBatch: values['model-batch'],
          modelImage: values['model-image'],
          modelChannels: values['model-channels'],
          modelClasses: values['model-classes'],
          sizes: values.sizes,
          peers: !values['no-peers'],
          json: values.json,
        };
        await withRuntime(values.adapter, async (rt) => {
          console.log(adapterLine(rt));
          await bench(rt, () => createNodeRuntime({ adapter: values.adapter }), args);
        });
        return 0;
      }
      case 'step': {
        const { values } = parseCommand('step', rest, {
          ...COMMON_OPTIONS,
          model: { type: 'string' },
          'num-classes': { type: 'string' },
          'in-channels': { type: 'string' },
          rule: { type: 'string' },
          weights: { type: 'string' },
          batch: { type: 'string' },
          out: { type: 'string' },
          hidden: { type: 'string' },
        });
        if (values.help) return (void console.log(STEP_HELP), 0);
        if (values.debug) setDebugFlags(values.debug);
        const args = {
          model: values.model,
          numClasses: values['num-classes'],
          inChannels: values['in-channels'],
          rule: values.rule,
          weights: values.weights,
          batch: values.batch,
          out: values.out,
          hidden: values.hidden,
        };
        parseStepArgs(args);
        await withRuntime(values.adapter, async (rt) => {
          console.log(adapterLine(rt));
          await step(rt, args);
        });
        return 0;
      }
      default:
        throw new UsageError(
          `nowt: unknown command "${command}". Commands: train, compare, eval, report, info, bench, step. See \`nowt --help\`.`,
        );
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof NowtError || (e instanceof Error && e.message.startsWith('--debug'))) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    console.error(`error: ${(e as Error).message}`);
    if (process.env.NOWT_TRACE) console.error((e as Error).stack);
    else console.error('(set NOWT_TRACE=1 for the stack trace)');
    return 1;
  }
}
