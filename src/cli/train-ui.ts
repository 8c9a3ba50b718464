// What `nowt train` and `nowt compare` show while they run: on a terminal
// progress bars (cli-progress) — the run's epoch, step, loss, train error,
// images/s and ETA, and for a comparison a bar over all its rules — with test
// results and events printed above them; in a pipe or CI one plain line per
// train record instead of bars.

import cliProgress from 'cli-progress';
import type { TrainRecord } from '../train/loop.ts';
import type { RunUi } from '../train/node-run.ts';

const pct = (e: number) => `${(100 * e).toFixed(1)}%`;

/** A comparison's place: this run is rule `index` (0-based) of `count`, all of equal length. */
export interface OverallProgress {
  index: number;
  count: number;
}

export function trainUi(label: string, overall?: OverallProgress, stream: NodeJS.WriteStream = process.stderr): RunUi {
  const tty = Boolean(stream.isTTY);
  let bars: { multi: cliProgress.MultiBar; run: cliProgress.SingleBar; all: cliProgress.SingleBar | null } | null = null;
  let epochs = 1;
  const say = (line: string) => {
    if (bars) bars.multi.log(`${line}\n`);
    else stream.write(`${line}\n`);
  };
  const values = (step: number, spe: number, last: TrainRecord | null) => ({
    epoch: Math.min(epochs, Math.floor(step / spe) + 1),
    epochs,
    loss: last ? last.loss.toFixed(4) : '—',
    err: last ? pct(last.top1_error) : '—',
    ips: last ? last.images_per_s.toFixed(1) : '—',
  });
  const startBars = (step: number, total: number, spe: number, last: TrainRecord | null) => {
    const multi = new cliProgress.MultiBar(
      { stream, etaBuffer: 50, hideCursor: true, clearOnComplete: true, autopadding: true },
      cliProgress.Presets.shades_classic,
    );
    const all = overall
      ? multi.create(
          overall.count * total,
          overall.index * total + step,
          {},
          { format: `all rules |{bar}| rule ${overall.index + 1}/${overall.count} · ETA {eta_formatted}` },
        )
      : null;
    const run = multi.create(total, step, values(step, spe, last), {
      format: `${label} epoch {epoch}/{epochs} |{bar}| step {value}/{total} · loss {loss} · err {err} · {ips} img/s · ETA {eta_formatted}`,
    });
    return { multi, run, all };
  };
  return {
    start({ trainer, resumedAt }) {
      epochs = trainer.config.epochs;
      const c = trainer.config;
      const ds = trainer.dataset;
      say(
        `${label}: ${c.model} on ${c.dataset} (${ds.train.length} train, ${ds.test.length} test, ${ds.channels}×${ds.imageSize.join('×')}), rule ${c.rule}, ` +
          `${c.epochs} epoch(s) × ${trainer.stepsPerEpoch} steps of ${c.batch_size}` +
          (resumedAt !== null ? `; resuming at step ${resumedAt}` : ''),
      );
    },
    warmup(done, total) {
      if (tty) stream.write(`\r\x1b[2K${label} wm warm-up: ${done}/${total} mirror steps`);
      if (done === total) stream.write(tty ? '\n' : `${label} wm warm-up: ${total} mirror steps done\n`);
    },
    progress(step, total, last, spe) {
      if (!tty) return;
      bars ??= startBars(step, total, spe, last);
      bars.run.update(step, values(step, spe, last));
      if (overall) bars.all?.update(overall.index * total + step);
    },
    record(r) {
      if (r.kind === 'train' && !tty) {
        stream.write(
          `${label} step ${r.step} epoch ${r.epoch}: loss ${r.loss.toFixed(4)}, train error ${pct(r.top1_error)}, lr ${r.lr.toPrecision(3)}, ${r.images_per_s.toFixed(1)} images/s\n`,
        );
      } else if (r.kind === 'test') {
        say(
          `${label} epoch ${r.epoch} test: loss ${r.loss.toFixed(4)}, top-1 error ${pct(r.top1_error)}, top-5 error ${pct(r.top5_error)}`,
        );
      } else if (r.kind === 'alignment' && !tty) {
        // The first layer's B is read by no pass (its weight angle is left out); every δ counts.
        const worst = Math.max(...r.layers.filter((l) => !l.unused).map((l) => l.weight_angle_deg));
        const delta = Math.max(...r.layers.map((l) => (Number.isFinite(l.delta_angle_deg) ? l.delta_angle_deg : 0)));
        stream.write(
          `${label} step ${r.step} alignment: worst weight angle ${worst.toFixed(1)}°, worst delta angle ${delta.toFixed(1)}°\n`,
        );
      }
    },
    end() {
      bars?.multi.stop();
      bars = null;
    },
  };
}
