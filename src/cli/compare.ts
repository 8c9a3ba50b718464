// `nowt compare`: the same experiment under several rules — the same initial
// W, data order and seed — one run folder per rule (<out>/<rule>/, exactly
// what nowt train writes), then <out>/report.html and a table on the
// terminal. Rules run one after another, each on a fresh device so one rule's
// memory is gone before the next compiles. --resume keeps finished rules and
// resumes the unfinished one exactly.

import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../gpu/runtime.ts';
import { buildReport } from '../report/node-report.ts';
import { readRuns } from '../report/node-runs.ts';
import { summarizeRun } from '../report/summary.ts';
import { RULE_NAMES } from '../rules/rule.ts';
import { ConfigError, validateConfig, type TrainConfig } from '../train/config.ts';
import { RUN_FILES, runTraining } from '../train/node-run.ts';
import { EXIT_DIVERGED, EXIT_INTERRUPTED } from './train.ts';
import { trainUi } from './train-ui.ts';
import { UsageError } from './usage.ts';

export const COMPARE_HELP = `nowt compare — the same experiment under several rules, then one report

Usage: nowt compare [--rules bp,fa,ss,wm,kp] [--preset poster] [every nowt train flag] --out DIR [--resume]

Every rule starts from the same initial W, sees the same data in the same
order and uses the same seed. Writes <out>/<rule>/ (each exactly what nowt
train writes) and <out>/report.html, and prints a table of the results.

  --rules LIST     which rules, in order (default bp,fa,ss,wm,kp)
  --preset poster  npm start's experiment, sized by the adapter: an MLP on
                   Fashion-MNIST on a CPU adapter, a ResNet-20 on the full data
                   on a GPU; flags given as well override it
  --out DIR        the comparison's folder (default runs/compare-<dataset>-<model>)
  --resume         finish an interrupted comparison: finished rules are kept,
                   the unfinished one resumes exactly from its checkpoint

See nowt train --help for the training flags.
`;

export interface CompareArgs {
  config: TrainConfig;
  explicit: Set<string>;
  rules: string[];
  out: string;
  resume: boolean;
}

export function parseRules(list: string | undefined): string[] {
  const rules = (list ?? RULE_NAMES.join(',')).split(',').map((r) => r.trim());
  for (const r of rules)
    if (!(RULE_NAMES as readonly string[]).includes(r))
      throw new UsageError(`--rules: "${r}" is not a rule (known: ${RULE_NAMES.join(', ')})`);
  if (new Set(rules).size !== rules.length) throw new UsageError(`--rules: "${list}" names a rule twice`);
  return rules;
}

/** Every rule's config checked up front (KP's weight decay, …): nothing starts unless all can. */
export function checkCompare(args: CompareArgs): void {
  for (const rule of args.rules) validateConfig({ ...args.config, rule });
  if (existsSync(args.out) && !args.resume && readdirSync(args.out).length > 0)
    throw new ConfigError(`--out ${args.out} already holds files; pass --resume to finish that comparison, or choose another folder`);
}

/** A run folder whose last event says it finished. */
function finished(dir: string): boolean {
  const path = join(dir, RUN_FILES.metrics);
  if (!existsSync(path)) return false;
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const r = JSON.parse(lines[i]) as { kind: string; what?: string };
      if (r.kind === 'event') return r.what === 'finished';
    } catch {
      return false;
    }
  }
  return false;
}

export interface CompareHooks {
  newRuntime: () => Promise<Runtime>;
  stopRequested: () => boolean;
}

export async function compare(args: CompareArgs, hooks: CompareHooks): Promise<number> {
  checkCompare(args);
  const dirs = args.rules.map((r) => join(args.out, r));
  for (const [i, rule] of args.rules.entries()) {
    const dir = dirs[i];
    const label = `[${i + 1}/${args.rules.length}] ${rule}`;
    if (args.resume && finished(dir)) {
      console.error(`${label}: finished earlier, kept (${dir})`);
      continue;
    }
    const resume = args.resume && existsSync(join(dir, RUN_FILES.checkpoint));
    // Killed before its first checkpoint: nothing to keep, so it starts again.
    if (args.resume && !resume && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    const rt = await hooks.newRuntime();
    try {
      const { end } = await runTraining(rt, {
        config: { ...args.config, rule },
        out: dir,
        resume,
        explicit: args.explicit,
        ui: trainUi(label, { index: i, count: args.rules.length }),
        stopRequested: hooks.stopRequested,
      });
      await buildReport([dir], join(dir, 'report.html'));
      if (end.how === 'interrupted') {
        console.error(`interrupted in ${rule} at step ${end.step}; finish with: nowt compare … --out ${args.out} --resume`);
        return EXIT_INTERRUPTED;
      }
      if (end.how === 'diverged') console.error(`${rule} diverged at step ${end.step} (${end.what}); the comparison goes on`);
    } finally {
      rt.destroy();
    }
  }
  const report = join(args.out, 'report.html');
  await buildReport(dirs, report);
  console.log(`\n${comparisonTable(dirs)}\n\nreport: ${report}`);
  return dirs.some((d) => !finished(d)) ? EXIT_DIVERGED : 0;
}

/** The terminal's summary: the report's final table in text. */
export function comparisonTable(dirs: string[]): string {
  const pct = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(2)}%`);
  const deg = (x: number | null) => (x === null ? '—' : `${x.toFixed(1)}°`);
  const rows = readRuns(dirs).map((run) => {
    const s = summarizeRun(run);
    return [
      s.label,
      pct(s.top1),
      pct(s.top5),
      deg(s.weightMean),
      deg(s.weightWorst),
      deg(s.deltaMean),
      deg(s.deltaWorst),
      s.imagesPerS === null ? '—' : s.imagesPerS.toFixed(1),
      s.status ?? '—',
    ];
  });
  const head = ['rule', 'top-1 err', 'top-5 err', '∠(B,W) mean', 'worst', '∠(δ,δbp) mean', 'worst', 'images/s', 'status'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    line(head),
    ...rows.map(line),
    "angles: the last alignment record; the first weight layer's weight angle is left out (no pass reads its B)",
  ].join('\n');
}
