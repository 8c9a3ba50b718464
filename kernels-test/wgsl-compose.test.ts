// Shader composition (no GPU): //#include splices a library file once per
// module, recursively, refusing cycles and naming missing files; //#elem
// declares the element type; compile errors map back to (file, line).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diskShaderSource } from '../src/gpu/node-shaders.ts';
import { mapShaderSource } from '../src/gpu/shader-source.ts';
import { composeShader, sourceLocation } from '../src/gpu/wgsl-compose.ts';

const files = {
  main: ['// a kernel', '//#include lib/a', '//#include lib/b', 'fn main_fn() {}'].join('\n'),
  'lib/a': ['fn a() {}', '//#include lib/b'].join('\n'),
  'lib/b': 'fn b() {}',
  typed: ['//#elem', '@group(0) @binding(0) var<storage, read_write> x: array<elem>;'].join('\n'),
  loop1: '//#include loop2',
  loop2: '//#include loop1',
  missing: '//#include lib/nowhere',
};
const src = mapShaderSource(files);

test('includes are spliced once, depth first, and lines map back to their files', () => {
  const c = composeShader('main', src);
  assert.equal(c.code.split('\n'), ['// a kernel', 'fn a() {}', 'fn b() {}', 'fn main_fn() {}']);
  assert.equal(c.files, ['shaders/main.wgsl', 'shaders/lib/a.wgsl', 'shaders/lib/b.wgsl']);
  assert.is(sourceLocation(c, 2), 'shaders/lib/a.wgsl:1');
  assert.is(sourceLocation(c, 3), 'shaders/lib/b.wgsl:1');
  assert.is(sourceLocation(c, 4), 'shaders/main.wgsl:4');
});

test('//#elem declares the element type; f16 enables the extension first', () => {
  assert.match(composeShader('typed', src).code, /^alias elem = f32;\n/);
  const h = composeShader('typed', src, { elem: 'f16' });
  assert.match(h.code, /^enable f16;\nalias elem = f16;\n/);
  assert.is(sourceLocation(h, 3), 'shaders/typed.wgsl:2');
  // A shader that does not declare //#elem has no f16 variant.
  assert.throws(() => composeShader('main', src, { elem: 'f16' }), /does not declare \/\/#elem/);
});

test('cycles and missing files are refused by name', () => {
  assert.throws(() => composeShader('loop1', src), /include cycle loop1 → loop2 → loop1/);
  assert.throws(
    () => composeShader('missing', src),
    /shaders\/lib\/nowhere\.wgsl: cannot read it \(included from shaders\/missing\.wgsl\)/,
  );
});

test("every shader in shaders/ composes: its includes resolve, in Node's source and in the bundle's map alike", () => {
  const dir = fileURLToPath(new URL('../shaders/', import.meta.url));
  const names = [...readdirSync(dir).filter((f) => f.endsWith('.wgsl')), ...readdirSync(join(dir, 'lib')).map((f) => `lib/${f}`)].map((f) =>
    f.replace(/\.wgsl$/, ''),
  );
  const bundled = mapShaderSource(Object.fromEntries(names.map((n) => [n, readFileSync(join(dir, `${n}.wgsl`), 'utf8')])));
  let included = 0;
  for (const name of names.filter((n) => !n.startsWith('lib/'))) {
    const disk = composeShader(name, diskShaderSource());
    assert.is(composeShader(name, bundled).code, disk.code, name);
    assert.not.match(disk.code, /^\s*\/\/#include/m, name);
    included += disk.files.length - 1;
  }
  assert.ok(included >= 4, 'the conv shaders include lib/udiv');
});

test.run();
