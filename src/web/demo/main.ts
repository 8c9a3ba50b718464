// The demo page (demo/index.html; built by tools/demo-build.js): rules trained
// side by side on the page's WebGPU device (src/web/race.ts), drawn live with
// uPlot. URL parameters preset the form and fix a run for tests:
//
//   model, hidden, batch, lr, wd, rules=bp,fa   the form's fields
//   dataset=synthetic|fashion-mnist             skip or require the server's files
//   steps=N     stop every rule after N steps     turn=N   steps per turn (10)
//   k=N         alignment probe every N steps (10)  eval=N  test error every N steps (100)
//   test=N      test images evaluated (1000)        seed=N  seed of weights and data order (0)
//   autostart=1 press Start on load               debug=a,b  nowt's --debug switches
//
// Failures never leave a blank page: no WebGPU, a lost device, running out of
// GPU memory or any uncaught error shows #fatal with a restart button.

import { acquireBrowserRuntime } from '../index.ts';
import { DeviceError, NowtError } from '../../gpu/errors.ts';
import { setDebugFlags } from '../../gpu/flags.ts';
import type { Runtime } from '../../gpu/runtime.ts';
import { DEFAULT_CONFIG, mergeConfig, validateConfig, type TrainConfig } from '../../train/config.ts';
import type { AlignmentLayer } from '../../train/trainer.ts';
import { loadDemoData, type DemoData } from '../dataset.ts';
import { Race, type RaceRecord } from '../race.ts';
import { depthColor, LiveChart, RULE_COLORS } from './charts.ts';

const ALL_RULES = ['bp', 'fa', 'ss', 'wm', 'kp'];

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const intParam = (name: string, fallback: number) => {
  const v = params.get(name);
  if (v === null) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new NowtError(`?${name}=${v}: must be a whole number ≥ 0`);
  return n;
};

type State = 'starting' | 'idle' | 'loading' | 'running' | 'paused' | 'done' | 'error';

/** What tools/demo-test.js reads. */
interface DemoHandle {
  state: State;
  adapter: string;
  notice: string;
  records: RaceRecord[];
  error: string | null;
  chartPoints(): { loss: number; error: number; angles: number };
}

const charts: { loss: LiveChart | null; error: LiveChart | null; angles: Map<string, LiveChart> } = {
  loss: null,
  error: null,
  angles: new Map(),
};
const handle: DemoHandle = {
  state: 'starting',
  adapter: '',
  notice: '',
  records: [],
  error: null,
  chartPoints: () => ({
    loss: charts.loss?.points ?? 0,
    error: charts.error?.points ?? 0,
    angles: [...charts.angles.values()].reduce((a, c) => a + c.points, 0),
  }),
};
(globalThis as unknown as { nowtDemo: DemoHandle }).nowtDemo = handle;

let rt: Runtime | null = null;
let race: Race | null = null;
let data: { key: string; value: DemoData } | null = null;
let stopRequested = false;
let loop: Promise<void> | null = null;

function setState(s: State, text?: string, problem = false): void {
  handle.state = s;
  const busy = s === 'loading' || s === 'running';
  const fresh = race === null;
  $<HTMLButtonElement>('start').disabled = busy || s === 'done' || s === 'error' || s === 'starting';
  $<HTMLButtonElement>('start').textContent = fresh ? 'Start' : 'Resume';
  $<HTMLButtonElement>('pause').disabled = s !== 'running';
  $<HTMLButtonElement>('reset').disabled = fresh || s === 'loading' || s === 'error';
  $<HTMLFieldSetElement>('setup').disabled = !fresh || busy || s === 'error';
  if (text !== undefined) {
    $('status').textContent = text;
    $('status').classList.toggle('problem', problem);
  }
}

// ---- failures: always a message in the page

function explain(e: unknown): { title: string; message: string; hint: string } {
  const message = e instanceof Error ? e.message : String(e);
  if (/navigator\.gpu is missing|no WebGPU adapter|requestAdapter/i.test(message)) {
    return {
      title: 'No WebGPU here',
      // The engine's own text for a missing adapter speaks of Node's drivers; say it as a browser would.
      message: /no WebGPU adapter found/.test(message)
        ? 'The browser gave this page no WebGPU adapter (navigator.gpu.requestAdapter() returned none): WebGPU is off, blocked for this GPU, or there is no GPU it can use.'
        : message,
      hint:
        'This demo trains on the GPU through WebGPU. Use a recent Chrome or Edge (113 or later) over http://localhost or https; ' +
        'on Linux, start Chrome with --enable-unsafe-webgpu (or enable chrome://flags/#enable-unsafe-webgpu).',
    };
  }
  if (/out of memory|OutOfMemory/i.test(message)) {
    return {
      title: 'Out of GPU memory',
      message,
      hint: 'Restart with a smaller batch, fewer rules side by side or the mlp.',
    };
  }
  if (/device lost|device was lost/i.test(message)) {
    return {
      title: 'The GPU device was lost',
      message,
      hint: 'The browser or the driver reset the GPU (another tab, a driver update, a long-running kernel). Restart to train again.',
    };
  }
  if (e instanceof DeviceError) return { title: 'GPU error', message, hint: 'Restart the demo; `?debug=validate` checks every submit.' };
  return { title: 'The demo stopped', message, hint: 'Restart the demo to try again.' };
}

function fatal(e: unknown): void {
  if (handle.state === 'error') return;
  const { title, message, hint } = explain(e);
  handle.error = `${title}: ${message}`;
  stopRequested = true;
  $('fatal-title').textContent = title;
  $('fatal-message').textContent = message;
  $('fatal-hint').textContent = hint;
  $('fatal').hidden = false;
  setState('error', title, true);
}

addEventListener('error', (ev) => fatal(ev.error ?? ev.message));
addEventListener('unhandledrejection', (ev) => fatal(ev.reason));

// ---- the form

function presetForm(): void {
  for (const id of ['model', 'hidden', 'batch', 'lr', 'wd']) {
    const v = params.get(id);
    if (v !== null) $<HTMLInputElement>(id).value = v;
  }
  const rules = params.get('rules');
  if (rules !== null) {
    const wanted = rules.split(',').map((r) => r.trim());
    const unknown = wanted.filter((r) => !ALL_RULES.includes(r));
    if (unknown.length) throw new NowtError(`?rules=${rules}: ${unknown.join(', ')} is not a rule (known: ${ALL_RULES.join(', ')})`);
    for (const box of ruleBoxes()) box.checked = wanted.includes(box.value);
  }
  syncHidden();
}

function ruleBoxes(): HTMLInputElement[] {
  return [...$('rules').querySelectorAll<HTMLInputElement>('input[type=checkbox]')];
}

function syncHidden(): void {
  $<HTMLInputElement>('hidden').disabled = $<HTMLSelectElement>('model').value !== 'mlp';
}

/** validateConfig's messages name the CLI's flags; the page names its fields. */
const FIELDS: Record<string, string> = {
  '--batch-size': 'Batch',
  '--lr': 'Learning rate',
  '--weight-decay': 'Weight decay',
  '--hidden': 'Hidden',
  '--seed': '?seed=',
  '--align-every': '?k=',
  '--log-every': '?log=',
};

function fieldMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/--[a-z-]+/g, (flag) => FIELDS[flag] ?? flag).replace(/ with --rule (\w+)/, ' with $1');
}

function formConfig(): { config: TrainConfig; rules: string[] } {
  const rules = ruleBoxes()
    .filter((b) => b.checked)
    .map((b) => b.value);
  if (rules.length === 0) throw new NowtError('choose at least one rule');
  const model = $<HTMLSelectElement>('model').value;
  const hiddenText = $<HTMLInputElement>('hidden').value.trim();
  const hidden = model === 'mlp' && hiddenText ? hiddenText.split(',').map((h) => Number(h.trim())) : null;
  const config = mergeConfig(DEFAULT_CONFIG, {
    model,
    hidden,
    dataset: 'synthetic',
    batch_size: Number($<HTMLInputElement>('batch').value),
    optimizer: { lr: Number($<HTMLInputElement>('lr').value), weight_decay: Number($<HTMLInputElement>('wd').value) },
    schedule: { kind: 'constant' },
    seed: intParam('seed', 0),
    epochs: 1000,
    align_every: intParam('k', 10),
    log_every: intParam('log', 10),
  });
  for (const rule of rules) validateConfig({ ...config, rule });
  return { config, rules };
}

// ---- figures

function buildCurves(rules: string[]): void {
  const parent = $('curves');
  const series = rules.map((r) => ({ label: r, color: RULE_COLORS[r] ?? '#888' }));
  charts.loss = new LiveChart(parent, { title: 'Training loss (mean over each window of steps)', yLabel: 'loss', series });
  charts.error = new LiveChart(parent, {
    title: 'Test error (top-1)',
    yLabel: 'error %',
    series,
    format: (v) => `${v.toFixed(1)}%`,
    points: true,
  });
}

/**
 * Dashed, and said so: the first layer's B, which no pass reads (its weight
 * angle says nothing about learning; its delta angle does), and the last
 * layer's δ, which is the loss gradient itself for every rule (0°).
 */
function layerSeries(layers: AlignmentLayer[], kind: 'weight' | 'delta') {
  return layers.map((l, i) => {
    const note = kind === 'weight' ? (l.unused ? ' (B unused)' : '') : i === layers.length - 1 ? ' (output: 0°)' : '';
    const label = `${i + 1} ${l.name.replace(/\.weight$/, '')}${note}`;
    return { label, color: depthColor(i, layers.length), dash: note ? [4, 4] : undefined };
  });
}

function angleCharts(rule: string, layers: AlignmentLayer[]): [LiveChart, LiveChart] {
  const key = (kind: string) => `${rule}:${kind}`;
  const have = [charts.angles.get(key('weight')), charts.angles.get(key('delta'))];
  if (have[0] && have[1]) return have as [LiveChart, LiveChart];
  $('angles-title').hidden = false;
  const angle = { yLabel: 'degrees', format: (v: number) => `${v.toFixed(0)}°`, yRange: [0, 90] as [number, number] };
  const weight = new LiveChart($('angles'), { title: `${rule}: weight angle ∠(B, W)`, series: layerSeries(layers, 'weight'), ...angle });
  const delta = new LiveChart($('angles'), { title: `${rule}: delta angle ∠(δ, δ_BP)`, series: layerSeries(layers, 'delta'), ...angle });
  charts.angles.set(key('weight'), weight);
  charts.angles.set(key('delta'), delta);
  return [weight, delta];
}

function destroyCharts(): void {
  charts.loss?.destroy();
  charts.error?.destroy();
  for (const c of charts.angles.values()) c.destroy();
  charts.loss = charts.error = null;
  charts.angles.clear();
  $('angles-title').hidden = true;
}

// ---- the table of lanes

const latest = new Map<string, { loss?: number; error?: number }>();

function laneRows(): void {
  if (!race) return;
  const body = $('lanes').querySelector('tbody')!;
  const rows = race.lanes.map((l) => {
    const last = latest.get(l.rule) ?? {};
    const cells = [
      l.rule,
      String(l.step),
      last.loss === undefined ? '–' : last.loss.toFixed(3),
      last.error === undefined ? '–' : `${(100 * last.error).toFixed(1)}%`,
      l.imagesPerSecond > 0 ? l.imagesPerSecond.toFixed(l.imagesPerSecond < 100 ? 1 : 0) : '–',
    ];
    const tr = document.createElement('tr');
    tr.dataset.rule = l.rule;
    for (const c of cells) tr.append(Object.assign(document.createElement('td'), { textContent: c }));
    (tr.firstChild as HTMLElement).style.color = RULE_COLORS[l.rule] ?? '';
    return tr;
  });
  body.replaceChildren(...rows);
}

function onRecord(r: RaceRecord): void {
  if (handle.state === 'error') return;
  handle.records.push(r);
  const i = race ? race.lanes.findIndex((l) => l.rule === r.rule) : -1;
  const last = latest.get(r.rule) ?? {};
  latest.set(r.rule, last);
  if (r.kind === 'train') {
    charts.loss?.add(i, r.step, r.loss);
    last.loss = r.loss;
  } else if (r.kind === 'test') {
    charts.error?.add(i, r.step, 100 * r.top1_error);
    last.error = r.top1_error;
  } else {
    const [weight, delta] = angleCharts(r.rule, r.layers);
    r.layers.forEach((l, j) => {
      weight.add(j, r.step, l.weight_angle_deg);
      delta.add(j, r.step, l.delta_angle_deg);
    });
  }
  laneRows();
}

// ---- start, pause, reset

async function start(): Promise<void> {
  if (race) return resume();
  let setup: ReturnType<typeof formConfig>;
  try {
    setup = formConfig();
  } catch (e) {
    setState('idle', fieldMessage(e), true);
    return;
  }
  setState('loading', 'Loading the data…');
  const force = params.get('dataset');
  if (force !== null && force !== 'synthetic' && force !== 'fashion-mnist')
    throw new NowtError(`?dataset=${force}: must be synthetic or fashion-mnist`);
  const limitTest = intParam('test', 1000);
  const key = `${force} ${limitTest} ${setup.config.seed}`;
  if (data?.key !== key) {
    const value = await loadDemoData(new URL('.', location.href), {
      force,
      limitTest,
      seed: setup.config.seed,
      onProgress: (text) => setState('loading', text),
    });
    data = { key, value };
  }
  handle.notice = data.value.notice;
  $('notice').textContent = data.value.notice;
  const maxSteps = params.has('steps') ? intParam('steps', 0) : Infinity;
  const opts = { turnSteps: Math.max(1, intParam('turn', 10)), evalEvery: intParam('eval', 100), maxSteps };
  race = await Race.create(rt!, setup.config, data.value.dataset, setup.rules, opts, (rule) => setState('loading', `Compiled ${rule}…`));
  buildCurves(setup.rules);
  laneRows();
  await resume();
}

async function resume(): Promise<void> {
  if (!race || loop) return;
  stopRequested = false;
  setState('running', 'Training…');
  const r = race;
  loop = (async () => {
    while (!stopRequested && (await r.round(onRecord, () => stopRequested))) laneRows();
    await r.settled();
    laneRows();
  })();
  try {
    await loop;
  } finally {
    loop = null;
  }
  if (handle.state === 'error') return;
  if (r.done) setState('done', `Done: ${r.opts.maxSteps} steps per rule.`);
  else setState('paused', 'Paused.');
}

async function pause(): Promise<void> {
  stopRequested = true;
  await loop;
}

async function reset(): Promise<void> {
  await pause();
  destroyCharts();
  race = null;
  latest.clear();
  handle.records = [];
  $('lanes').querySelector('tbody')!.replaceChildren();
  // A fresh device frees everything the trainers held.
  rt?.destroy();
  rt = null;
  setState('loading', 'Resetting…');
  await acquire();
  setState('idle', 'Idle.');
}

async function acquire(): Promise<void> {
  rt = await acquireBrowserRuntime({ onError: (e) => fatal(e) });
  const a = rt.ctx.adapter;
  const name = [a.vendor, a.architecture, a.device, a.description].filter((s) => s && s !== 'unknown').join(' / ') || 'unnamed adapter';
  handle.adapter = name;
  $('adapter').textContent = `Adapter: ${name}${rt.ctx.isCpu ? ' (a CPU adapter: expect a few steps per second)' : ''}`;
}

function on(id: string, what: () => Promise<void>): void {
  $(id).addEventListener('click', () => void what().catch(fatal));
}

function onOptimizerChange(): void {
  if (!race) return;
  const lr = Number($<HTMLInputElement>('lr').value);
  const wd = Number($<HTMLInputElement>('wd').value);
  try {
    for (const l of race.lanes) validateConfig({ ...l.trainer.config, optimizer: { ...l.trainer.config.optimizer, lr, weight_decay: wd } });
  } catch (e) {
    setState(handle.state, `Not applied: ${fieldMessage(e)}`, true);
    return;
  }
  race.setOptimizer(lr, wd);
  setState(handle.state, `Learning rate ${lr}, weight decay ${wd} from the next step on.`);
}

async function main(): Promise<void> {
  $('restart').addEventListener('click', () => location.reload());
  on('start', start);
  on('pause', pause);
  on('reset', reset);
  $('model').addEventListener('change', syncHidden);
  $('lr').addEventListener('change', onOptimizerChange);
  $('wd').addEventListener('change', onOptimizerChange);
  presetForm();
  const debug = params.get('debug');
  if (debug) setDebugFlags(debug);
  await acquire();
  setState('idle', debug ? `Idle. Debug switches: ${debug}.` : 'Idle.');
  if (params.get('autostart') === '1') await start();
}

main().catch(fatal);
