// The browser test's page script (bundled by tools/bundle.js to
// dist/browser-test-page.js; driven by tools/browser-test.js). It imports the
// engine from ./nowt.web.js, the real bundle, and checks the linear kernels
// against the float64 references on seeded inputs, in the page itself.

import {
  ShapeError,
  acquireBrowserRuntime,
  bundledShaders,
  composeShader,
  mapShaderSource,
  sourceLocation,
  type ElemType,
  linearFeedback,
  linearForward,
  linearWeightGrad,
  runOp,
  type Runtime,
  type Tensor,
} from '../src/web/index.ts';
import {
  linearFeedback as refFeedback,
  linearForward as refForward,
  linearWeightGrad as refWeightGrad,
} from '../kernels-test/reference/matmul.ts';
import { randomArray } from '../kernels-test/reference/random.ts';

// Same bound as kernels-test/matmul.test.ts: f32 accumulation of K products of
// O(1) values errs by at most ~K·ε; 4·K·ε plus a small atol leaves margin.
const EPS = 2 ** -23;
const tolFor = (K: number) => ({ atol: 1e-5 + 4 * K * EPS, rtol: 1e-4 });

// [M, K, N]: odd sizes that fill no tile, and the 1×1×1 corner.
const SHAPES: [number, number, number][] = [
  [3, 5, 7],
  [17, 9, 4],
  [1, 1, 1],
  [33, 65, 17],
];

export interface CaseResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface PageReport {
  adapter: Runtime['ctx']['adapter'] | null;
  userAgent: string;
  cases: CaseResult[];
  /** Set when no runtime could be made (no WebGPU, no adapter). */
  fatal?: string;
}

/** '' when close, else the first few mismatches as index / reference / GPU. */
function compare(what: string, got: ArrayLike<number>, want: ArrayLike<number>, K: number): string {
  const { atol, rtol } = tolFor(K);
  if (got.length !== want.length) return `${what}: length ${got.length}, expected ${want.length}`;
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) {
      if (count++ < 4) bad.push(`[${i}] ref ${want[i].toPrecision(7)} gpu ${Number(got[i]).toPrecision(7)}`);
    }
  }
  return count === 0 ? '' : `${what}: ${count}/${want.length} outside atol=${atol.toExponential(1)} rtol=${rtol}: ${bad.join('; ')}`;
}

async function linearCase(rt: Runtime, M: number, K: number, N: number): Promise<string> {
  const xh = randomArray(M * K, M * 7919 + K);
  const wh = randomArray(N * K, N * 104729 + K);
  const bh = randomArray(N, N + 3);
  const dyh = randomArray(M * N, M + N * 31);
  const Bh = randomArray(N * K, K * 13 + 5);
  const live: Tensor[] = [];
  const up = (a: Float64Array, shape: number[]) => {
    const t = rt.upload(Float32Array.from(a), shape);
    live.push(t);
    return t;
  };
  try {
    const [x, w, b, dy, B] = [up(xh, [M, K]), up(wh, [N, K]), up(bh, [N]), up(dyh, [M, N]), up(Bh, [N, K])];
    const fwd = runOp(rt, await linearForward(rt, { x, w, b }));
    const fb = runOp(rt, await linearFeedback(rt, { dy, feedback: B }));
    const wg = runOp(rt, await linearWeightGrad(rt, { dy, x }));
    live.push(fwd.out.y, fb.out.dx, wg.out.dw, wg.out.db!);
    const ref = refWeightGrad(dyh, xh, M, N, K);
    const errors = [
      compare('y', await rt.readF32(fwd.out.y), refForward(xh, wh, bh, M, K, N), K),
      compare('dx', await rt.readF32(fb.out.dx), refFeedback(dyh, Bh, M, N, K), N),
      compare('dw', await rt.readF32(wg.out.dw), ref.dw, M),
      compare('db', await rt.readF32(wg.out.db!), ref.db, M),
    ].filter(Boolean);
    return errors.join('\n');
  } finally {
    for (const t of live) t.release();
  }
}

async function run(name: string, cases: CaseResult[], fn: () => Promise<string>): Promise<void> {
  try {
    const detail = await fn();
    cases.push({ name, ok: detail === '', detail });
  } catch (e) {
    cases.push({ name, ok: false, detail: `threw ${(e as Error).name}: ${(e as Error).message}` });
  }
}

async function runBrowserTests(): Promise<PageReport> {
  const report: PageReport = { adapter: null, userAgent: navigator.userAgent, cases: [] };
  let rt: Runtime;
  try {
    rt = await acquireBrowserRuntime();
  } catch (e) {
    report.fatal = `${(e as Error).name}: ${(e as Error).message}`;
    return report;
  }
  report.adapter = rt.ctx.adapter;
  const { cases } = report;

  // Chromium's Tint may differ from the Dawn that Node uses: every shader must parse here too, composed
  // (includes spliced) from the bundle's map as the browser runtime composes it, in each element type it has.
  const kernels = Object.keys(bundledShaders).filter((n) => !n.startsWith('lib/'));
  await run(`all ${kernels.length} bundled shaders compose and compile`, cases, async () => {
    const errors: string[] = [];
    const source = mapShaderSource(bundledShaders);
    for (const name of kernels) {
      const elems: ElemType[] =
        /^\s*\/\/#elem\s*$/m.test(bundledShaders[name]) && rt.ctx.features.has('shader-f16') ? ['f32', 'f16'] : ['f32'];
      for (const elem of elems) {
        const composed = composeShader(name, source, { elem });
        const info = await rt.device.createShaderModule({ label: name, code: composed.code }).getCompilationInfo();
        for (const m of info.messages)
          if (m.type === 'error') errors.push(`${sourceLocation(composed, m.lineNum)}:${m.linePos} (${elem}): ${m.message}`);
      }
    }
    return errors.join('\n');
  });

  for (const [M, K, N] of SHAPES) {
    await run(`linear forward/feedback/weight-grad M=${M} K=${K} N=${N}`, cases, () => linearCase(rt, M, K, N));
  }

  await run('bad shapes throw ShapeError before any dispatch', cases, async () => {
    const before = rt.stats.bindGroupsCreated;
    const x = rt.empty([4, 3]);
    const w = rt.empty([5, 2]);
    try {
      await linearForward(rt, { x, w });
      return 'linearForward accepted x [4, 3] with w [5, 2]';
    } catch (e) {
      if (!(e instanceof ShapeError)) return `threw ${(e as Error).name}, expected ShapeError`;
      if (!/linearForward\(\): x is \[4, 3\] but w is \[5, 2\]/.test(e.message)) return `message: ${e.message}`;
    } finally {
      x.release();
      w.release();
    }
    return rt.stats.bindGroupsCreated === before ? '' : 'a bind group was created';
  });

  await run('device healthy (no uncaptured GPU errors)', cases, async () => {
    await rt.finish();
    return '';
  });
  rt.destroy();
  return report;
}

(globalThis as unknown as { runNowtBrowserTests: typeof runBrowserTests }).runNowtBrowserTests = runBrowserTests;
