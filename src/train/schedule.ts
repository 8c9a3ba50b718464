// The learning rate as a pure function of the step: a resumed run needs only
// its step count. Epoch-based schedules (step, multistep) change at epoch
// boundaries as PyTorch's StepLR and MultiStepLR do when stepped once per
// epoch; cosine anneals every step (CosineAnnealingLR stepped per
// iteration, to 0 at the last step); the warm-up ramps linearly per step.

import type { ScheduleConfig } from './config.ts';

export interface ScheduleInput {
  baseLr: number;
  stepsPerEpoch: number;
  epochs: number;
}

/** The rate for the step that comes after `step` steps have been taken. */
export function learningRate(s: ScheduleConfig, { baseLr, stepsPerEpoch, epochs }: ScheduleInput, step: number): number {
  const epoch = Math.floor(step / stepsPerEpoch);
  const warmupSteps = Math.round(s.warmup_epochs * stepsPerEpoch);
  if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
  switch (s.kind) {
    case 'constant':
      return baseLr;
    case 'step':
      return baseLr * s.gamma ** Math.floor(epoch / s.step_size);
    case 'multistep':
      return baseLr * s.gamma ** s.milestones.filter((m) => m <= epoch).length;
    case 'cosine': {
      const total = epochs * stepsPerEpoch - warmupSteps;
      const t = Math.min(step - warmupSteps, total);
      return total <= 0 ? baseLr : 0.5 * baseLr * (1 + Math.cos((Math.PI * t) / total));
    }
  }
}
