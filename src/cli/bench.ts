// `nowt bench`: kernel throughput as a table, and as JSON with --json.

import { formatKernelTable, runKernelBench } from '../../tools/bench/kernels.ts';
import { formatModelTable, runModelBench } from '../../tools/bench/models.ts';
import { formatTuneTable, runTune } from '../../tools/bench/tune.ts';
import { defaultTuningPath, loadTuningFile, tuningPath } from '../kernels/node-tuning.ts';
import { ruleByName } from '../rules/index.ts';
import type { RuleName } from '../rules/rule.ts';
import { MATMUL_SHAPES } from '../../tools/bench/matmul.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { writeFileAtomic } from '../io/node-files.ts';
import { Progress } from './progress.ts';
import { UsageError } from './usage.ts';

const SHAPE_KEYS: Record<string, string> = {
  '256': 'square 256',
  '512': 'square 512',
  '1024': 'square 1024',
  '2048': 'square 2048',
  fc: 'resnet18 fc (256x512->1000)',
};

export const BENCH_HELP = `nowt bench — kernel throughput on this adapter, next to its measured FMA peak
and tfjs-backend-webgpu on the same device in the same run

Usage: nowt bench [--kernels] [--models] [--tune] [options]

  --kernels        benchmark the kernels (the FMA peak probe; linear forward,
                   feedback and weight gradient at each size)
  --sizes LIST     comma-separated subset of: ${Object.keys(SHAPE_KEYS).join(', ')} (default: all;
                   fc is ResNet-18's classifier, batch 256 × 512 → 1000)
  --models         benchmark whole training steps per rule: resnet18 and resnet50
                   (batch 8, 64² on a CPU adapter; batch 128, 224² on a GPU) and
                   resnet20 (32²), with the memory plan's bytes next to the minimum;
                   each rule's median of 7 samples (on a CPU adapter the rules
                   take turns), and × bp is that over bp's median
  --model-list L   comma-separated subset of resnet18, resnet50, resnet20
  --rules LIST     comma-separated subset of bp, fa, ss, wm, kp (default: all)
  --convs LIST     models whose distinct convs to run: resnet18,resnet50 (default),
                   one of them, or none
  --conv-batch N   batch of the conv benchmarks (default 8)
  --conv-image N   image size of the conv benchmarks (default 224)
  --model-batch N, --model-image N, --model-channels C, --model-classes K
                   the --models step's shape instead of the defaults (e.g. to match a nowt train run)
  --tune           time every valid kernel configuration (a few per shape, each
                   checked against the default's output first) for the convs of
                   --convs (default resnet18), the fc products of those models and
                   --model-list, and batchnorm's backward, at --conv-batch and
                   --conv-image; print tuned vs default and write the winners as a
                   tuning table (to --tuning FILE, else tuning/<adapter>.json)
  --tune-max N     candidates per shape (default 4 on a CPU adapter, 8 on a GPU)
  --tuning FILE    use this tuning table ("auto": tuning/<adapter>.json; or set
                   NOWT_TUNING); with --tune, where to write it
  --no-peers       skip tfjs-backend-webgpu
  --json FILE      also write the results as JSON (schema in INTERFACES.md)
  --adapter NAME   pick an adapter by a substring of its name (or NOWT_ADAPTER)
  --debug LIST     debug switches (see README)

On a CPU adapter the 2048 sizes take minutes; --sizes 256,512,1024,fc is quicker.
`;

export interface BenchArgs {
  kernels: boolean;
  models: boolean;
  modelList?: string;
  rules?: string;
  convs?: string;
  convBatch?: string;
  convImage?: string;
  modelBatch?: string;
  modelImage?: string;
  modelChannels?: string;
  modelClasses?: string;
  sizes?: string;
  peers: boolean;
  json?: string;
  tune?: boolean;
  tuneMax?: string;
  tuning?: string;
}

export function parseSizes(list: string | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  return list.split(',').map((s) => {
    const key = SHAPE_KEYS[s.trim()];
    if (!key || !(key in MATMUL_SHAPES))
      throw new UsageError(`nowt bench: --sizes: unknown size "${s}" (known: ${Object.keys(SHAPE_KEYS).join(', ')})`);
    return key;
  });
}

export async function bench(rt: Runtime, newRuntime: () => Promise<Runtime>, args: BenchArgs): Promise<void> {
  if (!args.kernels && !args.models && !args.tune)
    throw new UsageError('nowt bench: say what to benchmark: --kernels, --models and/or --tune. See `nowt bench --help`.');
  const shapes = parseSizes(args.sizes);
  const models = args.modelList?.split(',').map((m) => {
    if (!['resnet18', 'resnet50', 'resnet20'].includes(m))
      throw new UsageError(`nowt bench: --model-list: unknown model "${m}" (known: resnet18, resnet50, resnet20)`);
    return m;
  });
  const rules = args.rules?.split(',').map((r) => ruleByName(r.trim()).name as RuleName);
  const progressFn = () => {
    let progress: Progress | null = null;
    return {
      onProgress: (done: number, total: number, label: string) => {
        progress ??= new Progress(total);
        progress.step(done, label);
        if (done === total) progress.done();
      },
    };
  };
  const convModels = args.convs === undefined ? undefined : args.convs === 'none' ? [] : args.convs.split(',');
  for (const m of convModels ?? []) {
    if (m !== 'resnet18' && m !== 'resnet50')
      throw new UsageError(`nowt bench: --convs: unknown model "${m}" (known: resnet18, resnet50, none)`);
  }
  const int = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`nowt bench: --${flag} must be a positive integer (got "${v}")`);
    return n;
  };
  const convBatch = int('conv-batch', args.convBatch);
  const convImage = int('conv-image', args.convImage);
  if (args.tune) {
    const conv = convModels ?? ['resnet18'];
    const result = await runTune(rt, {
      convModels: conv,
      linearModels: [...new Set([...conv, ...(models ?? [])])],
      batch: convBatch ?? 8,
      image: convImage ?? 224,
      maxCandidates: int('tune-max', args.tuneMax),
      ...progressFn(),
    });
    console.log(formatTuneTable(result));
    const file = args.tuning ? tuningPath(rt, args.tuning) : defaultTuningPath(rt);
    writeFileAtomic(file, `${JSON.stringify(result.table, null, 2)}\n`);
    console.log(`\nwrote ${file} (${result.table.entries.length} entries); use it with --tuning ${file} or NOWT_TUNING=${file}`);
    if (!args.kernels && !args.models) return;
  }
  // Later measurements run under the table: the one just written, or the one asked for.
  const table = args.tune ? (args.tuning ?? 'auto') : args.tuning;
  if (table) loadTuningFile(rt, table);
  const tunedRuntime = async () => {
    const r = await newRuntime();
    if (table) loadTuningFile(r, table);
    return r;
  };
  const report = args.kernels
    ? await runKernelBench(rt, { shapes, peers: args.peers, convModels, convBatch, convImage, ...progressFn() })
    : { adapter: rt.ctx.adapter, peak_gflops: 0, kernels: [], models: [], peers: [] };
  if (args.kernels) console.log(formatKernelTable(report));
  if (args.models) {
    const shape = {
      ...(args.modelBatch ? { batch: int('model-batch', args.modelBatch) } : {}),
      ...(args.modelImage ? { image: int('model-image', args.modelImage) } : {}),
      ...(args.modelChannels ? { inChannels: int('model-channels', args.modelChannels) } : {}),
      ...(args.modelClasses ? { numClasses: int('model-classes', args.modelClasses) } : {}),
    };
    const records = await runModelBench(tunedRuntime, { models, rules, shape, ...progressFn() });
    report.models = records;
    console.log(`\n${formatModelTable(records)}`);
  }
  if (args.json) {
    writeFileAtomic(args.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${args.json}`);
  }
}
