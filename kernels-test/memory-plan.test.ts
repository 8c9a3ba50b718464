// The liveness memory plan (no GPU): tensors share slots only when their
// lives do not overlap, and the plan stays near the live-bytes lower bound.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planMemory, type Lifetime } from '../src/graph/memory-plan.ts';
import { seededRandom } from './reference/random.ts';

function assertNoOverlap(lifetimes: Lifetime[], slotOf: Map<string, number>): void {
  for (const a of lifetimes) {
    for (const b of lifetimes) {
      if (a.id >= b.id || slotOf.get(a.id) !== slotOf.get(b.id)) continue;
      const overlap = a.first <= b.last && b.first <= a.last;
      assert.not.ok(overlap, `${a.id} [${a.first},${a.last}] and ${b.id} [${b.first},${b.last}] share slot ${slotOf.get(a.id)}`);
    }
  }
}

test('a chain reuses two slots', () => {
  // x0 → x1 → x2 → x3: each read only by the next step.
  const lifetimes = [0, 1, 2, 3].map((i) => ({ id: `x${i}`, bytes: 100, first: i, last: i + 1 }));
  const plan = planMemory(lifetimes);
  assertNoOverlap(lifetimes, plan.slotOf);
  assert.is(plan.slotBytes.length, 2);
  assert.is(plan.totalBytes, 200);
  assert.is(plan.lowerBoundBytes, 200);
});

test('tensors saved for the backward keep their slots', () => {
  const lifetimes: Lifetime[] = [
    { id: 'a', bytes: 64, first: 0, last: 9 },
    { id: 'b', bytes: 64, first: 1, last: 8 },
    { id: 'tmp', bytes: 32, first: 2, last: 3 },
    { id: 'tmp2', bytes: 32, first: 4, last: 5 },
  ];
  const plan = planMemory(lifetimes);
  assertNoOverlap(lifetimes, plan.slotOf);
  assert.is(plan.slotOf.get('tmp'), plan.slotOf.get('tmp2'));
  assert.is(plan.totalBytes, 160);
});

test('random lifetimes: never overlapping, within 1.5× the lower bound', () => {
  const rand = seededRandom(42);
  for (let trial = 0; trial < 20; trial++) {
    const lifetimes: Lifetime[] = [];
    for (let i = 0; i < 60; i++) {
      const first = Math.floor(rand() * 100);
      lifetimes.push({
        id: `t${String(i).padStart(2, '0')}`,
        bytes: 16 * (1 + Math.floor(rand() * 64)),
        first,
        last: first + Math.floor(rand() * 20),
      });
    }
    const plan = planMemory(lifetimes);
    assertNoOverlap(lifetimes, plan.slotOf);
    assert.ok(plan.totalBytes >= plan.lowerBoundBytes);
    assert.ok(plan.totalBytes <= 1.5 * plan.lowerBoundBytes, `plan ${plan.totalBytes} vs bound ${plan.lowerBoundBytes}`);
  }
});

test('a bad lifetime is refused', () => {
  assert.throws(() => planMemory([{ id: 'x', bytes: 4, first: 3, last: 1 }]), /planMemory\(\): tensor x has first=3 last=1/);
});

test.run();
