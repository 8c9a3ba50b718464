// Materialise: a schedule's values become tensors. Planned values are views
// at offset 0 of their slot's buffer (one buffer per slot of the memory plan);
// values that live for the whole pass (inputs, logits, metrics, kept deltas)
// get buffers of their own; a reshape is a view of its input's tensor.

import type { Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import type { MemoryPlan } from './memory-plan.ts';
import type { Schedule } from './schedule.ts';
import type { ValueId } from './values.ts';

export interface Materialised {
  /** The tensor of a value the schedule declares. */
  tensor(id: ValueId): Tensor;
  /** One buffer per slot of the plan. */
  readonly slots: readonly Tensor[];
}

export function materialise(rt: Runtime, schedule: Schedule, plan: MemoryPlan): Materialised {
  // Slots hold values of any 4-byte dtype; their sizes are whole 256-byte blocks (memory-plan.ts).
  const slots = plan.slotBytes.map((b, i) => rt.empty([Math.max(4, b / 4)], 'f32', `slot${i}`));
  const tensors = new Map<ValueId, Tensor>();
  const tensor = (id: ValueId): Tensor => {
    let t = tensors.get(id);
    if (t) return t;
    const d = schedule.values.get(id);
    if (!d) throw new Error(`materialise(): internal: ${schedule.model} has no value ${id}`);
    const slot = plan.slotOf.get(id);
    if (d.viewOf !== null) t = rt.view(tensor(d.viewOf), 0, d.shape, id, d.dtype);
    else if (slot !== undefined) t = rt.view(slots[slot], 0, d.shape, id, d.dtype);
    else t = rt.empty(d.shape, d.dtype, id);
    tensors.set(id, t);
    return t;
  };
  for (const id of schedule.values.keys()) tensor(id);
  return { tensor, slots };
}
