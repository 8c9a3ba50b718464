// The conv2d tests run every case on both kernel families: the CPU
// lane-tiled shaders/conv2d_lanes.wgsl (where the adapter takes it) and the
// portable kernels (forced with the force-portable-conv switch). Each test
// file makes its own suite, so that its closing check sees only its cases.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { debugFlags } from '../src/gpu/flags.ts';
import { conv2dVariant, type Conv2dVariant } from '../src/kernels/conv2d.ts';
import { gpu } from './harness.ts';

export interface VariantSuite {
  /** Registers one test per variant, the portable one forced by the debug switch. */
  variantTest(name: string, fn: () => Promise<void>): void;
  /** Registers the closing test: on a CPU adapter with 8-lane subgroups, both variants ran. */
  bothVariantsRan(): void;
}

export function conv2dVariantSuite(): VariantSuite {
  const used = new Set<Conv2dVariant>();
  return {
    variantTest(name, fn) {
      for (const forcePortable of [false, true]) {
        test(`${name} [${forcePortable ? 'portable forced' : 'adapter default'}]`, async () => {
          debugFlags.forcePortableConv = forcePortable;
          try {
            used.add(conv2dVariant(await gpu()));
            await fn();
          } finally {
            debugFlags.forcePortableConv = false;
          }
        });
      }
    },
    bothVariantsRan() {
      test('on a CPU adapter with 8-lane subgroups, both variants ran', async () => {
        const rt = await gpu();
        const sg = rt.ctx.subgroupSize;
        if (!rt.ctx.isCpu || sg?.min !== 8 || sg?.max !== 8) return;
        for (const v of ['lanes', 'portable'] as const) assert.ok(used.has(v), `variant ${v} not exercised`);
      });
    },
  };
}
