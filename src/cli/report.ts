// `nowt report`: the HTML report of run folders (or of a comparison folder's
// run folders), from their config.json and metrics.jsonl alone. No GPU.

import path from 'node:path';
import { buildReport, expandRunDirs } from '../report/node-report.ts';

export const REPORT_HELP = `nowt report — one self-contained HTML report of one or more runs

Usage: nowt report DIR... [--out FILE]

  DIR          a run folder (holds config.json and metrics.jsonl, as nowt train
               writes), or a comparison folder whose sub-folders are run folders
               (as nowt compare writes: <out>/<rule>/), which stands for all of them
  --out FILE   where the report goes (default: <first DIR>/report.html); every
               figure is also written as SVG and PNG to figures/ beside it

The report shows train loss and test error per rule, the weight angle ∠(B, W),
the delta angle ∠(δ, δ_BP) and ‖B‖/‖W‖ of every layer over training, a table of
final results (errors, angles, images/s, wall time) and every config.json key,
with the keys that differ between runs highlighted. It opens offline: styles
and figures are inline, and it fetches nothing.
`;

/** Builds the report; returns the path of the HTML file written. */
export async function reportCommand(args: { dirs: string[]; out?: string }): Promise<string> {
  if (args.dirs.length === 0) throw new Error('nowt report: give at least one run folder (see nowt report --help)');
  const dirs = expandRunDirs(args.dirs);
  const out = args.out ?? path.join(args.dirs[0], 'report.html');
  const result = await buildReport(dirs, out);
  return result.html;
}
