// `nowt bench`: kernel throughput as a table, and as JSON with --json.

import { runKernelBench, formatKernelTable } from '../../tools/bench/kernels.ts';
import { MATMUL_SHAPES } from '../../tools/bench/matmul.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { writeFileAtomic } from './files.ts';
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

Usage: nowt bench --kernels [--sizes LIST] [--no-peers] [--json FILE] [--adapter NAME]

  --kernels        benchmark the kernels (the FMA peak probe; linear forward,
                   feedback and weight gradient at each size)
  --sizes LIST     comma-separated subset of: ${Object.keys(SHAPE_KEYS).join(', ')} (default: all;
                   fc is ResNet-18's classifier, batch 256 × 512 → 1000)
  --no-peers       skip tfjs-backend-webgpu
  --json FILE      also write the results as JSON (schema in INTERFACES.md)
  --adapter NAME   pick an adapter by a substring of its name (or NOWT_ADAPTER)
  --debug LIST     debug switches (see README)

On a CPU adapter the 2048 sizes take minutes; --sizes 256,512,1024,fc is quicker.
`;

export interface BenchArgs {
  kernels: boolean;
  sizes?: string;
  peers: boolean;
  json?: string;
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

export async function bench(rt: Runtime, args: BenchArgs): Promise<void> {
  if (!args.kernels) throw new UsageError('nowt bench: say what to benchmark: --kernels. See `nowt bench --help`.');
  const shapes = parseSizes(args.sizes);
  let progress: Progress | null = null;
  const report = await runKernelBench(rt, {
    shapes,
    peers: args.peers,
    onProgress: (done, total, label) => {
      progress ??= new Progress(total);
      progress.step(done, label);
    },
  });
  (progress as Progress | null)?.done();
  console.log(formatKernelTable(report));
  if (args.json) {
    writeFileAtomic(args.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${args.json}`);
  }
}
