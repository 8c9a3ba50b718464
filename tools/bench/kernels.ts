// `nowt bench --kernels`: the probe's peak, nowt's kernels at benchmark
// sizes, and the same products by tfjs-backend-webgpu on the same device in
// the same run.

import type { Runtime } from '../../src/gpu/runtime.ts';
import { releaseTfjs, tfjsMatmulGflops } from '../peers/tfjs.ts';
import { benchLinear, MATMUL_SHAPES, type LinearKind } from './matmul.ts';
import { measurePeakGflops } from './peak.ts';
import { benchBatchnorm, benchConv, convLabel, distinctConvs, tfjsConvPeers, type ConvKind } from './conv.ts';
import type { BenchReport, KernelRecord, PeerRecord } from './schema.ts';

export interface KernelBenchOptions {
  /** Keys of MATMUL_SHAPES to run (default: all). */
  shapes?: string[];
  /** Models whose distinct convs to run (default resnet18 and resnet50; [] for none). */
  convModels?: string[];
  convBatch?: number;
  convImage?: number;
  peers?: boolean;
  onProgress?: (done: number, total: number, label: string) => void;
}

interface Case {
  label: string;
  run: () => Promise<void>;
}

export async function runKernelBench(rt: Runtime, opts: KernelBenchOptions = {}): Promise<BenchReport> {
  const shapes = opts.shapes ?? Object.keys(MATMUL_SHAPES);
  const report: BenchReport = { adapter: rt.ctx.adapter, peak_gflops: 0, kernels: [], models: [], peers: [] };
  const cases: Case[] = [{ label: 'FMA peak probe', run: async () => void (report.peak_gflops = await measurePeakGflops(rt)) }];
  for (const key of shapes) {
    const shape = MATMUL_SHAPES[key];
    for (const kind of ['forward', 'feedback', 'weight_grad'] as LinearKind[]) {
      cases.push({ label: `linear_${kind} ${key}`, run: async () => void report.kernels.push(await benchLinear(rt, key, shape, kind)) });
    }
    if (opts.peers !== false) {
      const [M, K, N] = shape;
      cases.push({
        label: `tfjs matMul ${key}`,
        run: async () => {
          const r = await tfjsMatmulGflops(rt, M, N, K, { transposeB: true, reps: 2, warmup: 1 });
          const peer: PeerRecord = { ...r, what: `matMul (x·Wᵀ) ${key} M=${M} K=${K} N=${N}` };
          report.peers.push(peer);
        },
      });
    }
  }
  const convModels = opts.convModels ?? ['resnet18', 'resnet50'];
  const convBatch = opts.convBatch ?? 8;
  const convImage = opts.convImage ?? 224;
  for (const conv of distinctConvs(convModels, convBatch, convImage)) {
    for (const kind of ['forward', 'feedback', 'weight_grad'] as ConvKind[]) {
      cases.push({
        label: `conv2d_${kind} ${convLabel(conv)}`,
        run: async () => void report.kernels.push(await benchConv(rt, conv, kind)),
      });
    }
    if (opts.peers !== false) {
      cases.push({ label: `tfjs conv ${convLabel(conv)}`, run: async () => void report.peers.push(...(await tfjsConvPeers(rt, conv))) });
    }
  }
  if (convModels.length > 0) {
    for (const [c, hw] of [
      [64, convImage / 2],
      [64, convImage / 4],
      [128, convImage / 8],
      [256, convImage / 16],
      [512, convImage / 32],
    ]) {
      const side = Math.max(2, Math.ceil(hw));
      const shape: [number, number, number, number] = [convBatch, c, side, side];
      for (const kind of ['forward', 'backward'] as const) {
        cases.push({
          label: `batchnorm_${kind} ${shape.join('x')}`,
          run: async () => void report.kernels.push(await benchBatchnorm(rt, shape, kind)),
        });
      }
    }
  }
  try {
    for (const [i, c] of cases.entries()) {
      opts.onProgress?.(i, cases.length, c.label);
      await c.run();
    }
    opts.onProgress?.(cases.length, cases.length, 'done');
  } finally {
    if (opts.peers !== false) releaseTfjs(rt);
  }
  return report;
}

/** The report as an aligned text table, with each kernel's share of the peak. */
export function formatKernelTable(report: BenchReport): string {
  const lines = [`peak (FMA probe): ${report.peak_gflops.toFixed(1)} GFLOP/s`, ''];
  const row = (cells: string[]) =>
    `${cells[0].padEnd(20)} ${cells[1].padEnd(44)} ${cells[2].padStart(10)} ${cells[3].padStart(9)} ${cells[4].padStart(8)}`;
  lines.push(row(['kernel', 'shape', 'ms', 'GFLOP/s', '% peak']));
  const pct = (g: number) => (report.peak_gflops > 0 ? `${((100 * g) / report.peak_gflops).toFixed(0)}%` : '-');
  // Memory-bound kernels (no FLOP count) show their bandwidth instead.
  for (const k of report.kernels as KernelRecord[]) {
    lines.push(
      row([
        k.name,
        k.shape,
        k.ms.toFixed(2),
        k.gflops > 0 ? k.gflops.toFixed(2) : `${k.gbps.toFixed(2)} GB/s`,
        k.gflops > 0 ? pct(k.gflops) : '-',
      ]),
    );
  }
  const summary = convSummary(report);
  if (summary.length > 0) lines.push('', ...summary);
  if (report.peers.length > 0) {
    lines.push('', row(['peer', 'what', 'ms', 'GFLOP/s', '% peak']));
    for (const p of report.peers) lines.push(row([p.name, p.what, (p.ms ?? 0).toFixed(2), (p.gflops ?? 0).toFixed(2), pct(p.gflops ?? 0)]));
  }
  return lines.join('\n');
}

const PEER_OF: Record<string, string> = {
  conv2d_forward: 'conv2d',
  conv2d_feedback: 'conv2dBackpropInput',
  conv2d_weight_grad: 'conv2dBackpropFilter',
  linear_forward: 'matMul',
};

/** Per conv kind: geometric mean of nowt/tfjs over the shapes both ran, and the best conv's share of the peak. */
export function convSummary(report: BenchReport): string[] {
  const out: string[] = [];
  for (const [kind, peer] of Object.entries(PEER_OF)) {
    const ratios: number[] = [];
    for (const k of report.kernels) {
      if (k.name !== kind) continue;
      const label = k.shape.split(' (')[0];
      const p = report.peers.find((x) => x.what.startsWith(`${peer} `) && x.what.includes(label.split(' M=')[0]) && (x.gflops ?? 0) > 0);
      if (p) ratios.push(k.gflops / p.gflops!);
    }
    if (ratios.length === 0) continue;
    const geo = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
    out.push(`${kind.padEnd(20)} vs tfjs ${peer}: ${geo.toFixed(2)}× (geometric mean over ${ratios.length} shapes)`);
  }
  const convs = report.kernels.filter((k) => k.name.startsWith('conv2d_'));
  if (convs.length > 0 && report.peak_gflops > 0) {
    const best = convs.reduce((a, b) => (b.gflops > a.gflops ? b : a));
    out.push(
      `best conv: ${best.name} ${best.shape} ${best.gflops.toFixed(2)} GFLOP/s = ${((100 * best.gflops) / report.peak_gflops).toFixed(0)}% of peak`,
    );
  }
  return out;
}
