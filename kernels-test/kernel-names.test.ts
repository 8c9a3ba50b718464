// One name, four places (ARCHITECTURE.md): every shader family's stem names
// its launcher (src/kernels/<stem>.ts), its float64 reference
// (kernels-test/reference/<stem>.ts) and its test (kernels-test/<stem>.test.ts).
// A shader's stem is the longest '_'-prefix of its name that has a launcher
// (conv2d_lanes → conv2d, matmul_lanes → matmul).

import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const at = (p: string) => existsSync(`${ROOT}${p}`);

test('every shader family has a launcher, a reference and a test under its stem', () => {
  const shaders = readdirSync(`${ROOT}shaders`).filter((f) => f.endsWith('.wgsl'));
  assert.ok(shaders.length > 10);
  const missing: string[] = [];
  for (const file of shaders) {
    const parts = file.slice(0, -'.wgsl'.length).split('_');
    const stem = parts.map((_, i) => parts.slice(0, parts.length - i).join('_')).find((s) => at(`src/kernels/${s}.ts`));
    if (!stem) {
      missing.push(`${file}: no src/kernels/<stem>.ts`);
      continue;
    }
    for (const p of [`kernels-test/reference/${stem}.ts`, `kernels-test/${stem}.test.ts`]) if (!at(p)) missing.push(`${file}: no ${p}`);
  }
  assert.equal(missing, []);
});

test.run();
