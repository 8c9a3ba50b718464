// What `nowt train` shows while it runs: on a terminal a progress bar
// (cli-progress) with epoch, step, loss, train error, images/s and ETA; in a
// pipe or CI one plain line per train record. Test results and events get a
// line of their own either way.

import cliProgress from 'cli-progress';
import type { TrainRecord } from '../train/loop.ts';
import type { RunUi } from '../train/node-run.ts';

const pct = (e: number) => `${(100 * e).toFixed(1)}%`;

export function trainUi(label: string, stream: NodeJS.WriteStream = process.stderr): RunUi {
  const tty = Boolean(stream.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let epochs = 1;
  const say = (line: string) => {
    if (bar) bar.stop();
    stream.write(`${line}\n`);
    bar = null;
  };
  const values = (step: number, spe: number, last: TrainRecord | null) => ({
    epoch: Math.min(epochs, Math.floor(step / spe) + 1),
    epochs,
    loss: last ? last.loss.toFixed(4) : '—',
    err: last ? pct(last.top1_error) : '—',
    ips: last ? last.images_per_s.toFixed(1) : '—',
  });
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
      if (tty) stream.write(`\r\x1b[2Kwm warm-up: ${done}/${total} mirror steps`);
      if (done === total) stream.write(tty ? '\n' : `wm warm-up: ${total} mirror steps done\n`);
    },
    progress(step, total, last, spe) {
      if (!tty) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${label} epoch {epoch}/{epochs} |{bar}| step {value}/{total} · loss {loss} · err {err} · {ips} img/s · ETA {eta_formatted}`,
            etaBuffer: 50,
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, step, values(step, spe, last));
      }
      bar.update(step, values(step, spe, last));
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
        const used = r.layers.filter((l) => !l.unused);
        const worst = Math.max(...used.map((l) => l.weight_angle_deg));
        const delta = Math.max(...used.map((l) => (Number.isFinite(l.delta_angle_deg) ? l.delta_angle_deg : 0)));
        stream.write(
          `${label} step ${r.step} alignment: worst weight angle ${worst.toFixed(1)}°, worst delta angle ${delta.toFixed(1)}°\n`,
        );
      }
    },
    end() {
      if (bar) (bar as cliProgress.SingleBar).stop();
      bar = null;
    },
  };
}
