// `npm start`'s experiment (`nowt compare --preset poster`): the poster's
// comparison — all five rules, the same start — sized by the adapter. On a
// CPU adapter an MLP on Fashion-MNIST (5.5 minutes measured on 2 idle cores); on a GPU
// a ResNet-20 on the full data. Flags given with the preset override it.
//
// Why these settings (the same for every rule; README, "The poster's result"):
// - weight decay 1e-2 with lr 0.05 and momentum 0.9: KP's W − B shrinks by
//   about ηλ/(1 − β) = 5e-3 per step, and the cosine schedule halves that on
//   average, so ~6 e-folds over the run. Measured on this MLP: at 5e-3 KP's
//   worst layer ended at 10.4° (BP 12.4% test error), at 1e-2 at 0.6° (BP
//   14.0%); PyTorch's usual 5e-4 would leave B far from W.
// - WM: η_B = λ_B = 0.05, so B forgets in ~20 mirror steps and keeps up with
//   W early in training, when W grows fast (with λ_B = 0.01 B lagged — its
//   norm ratio fell to 0.14 — and the MLP diverged at step 200); 256 noise
//   samples per mirror step, so B still remembers n/λ_B ≈ 5,000 samples,
//   enough for a 256-input layer (relative error ≈ √(256/5,000), ~10°;
//   measured at 30k examples: 128 samples gave 13°, 512 gave 6.6°); a
//   warm-up of 3/λ_B = 60 mirror steps forgets B's random start first.

import type { DeepPartial, TrainConfig } from '../train/config.ts';

export const PRESETS = ['poster'] as const;

export function posterPreset(isCpu: boolean): DeepPartial<TrainConfig> {
  const common: DeepPartial<TrainConfig> = {
    dataset: 'fashion-mnist',
    seed: 0,
    schedule: { kind: 'cosine', warmup_epochs: 0 },
    log_every: 20,
    eval_every: 1,
  };
  if (isCpu) {
    return {
      ...common,
      model: 'mlp',
      hidden: [256, 256],
      epochs: 5,
      batch_size: 128,
      optimizer: { lr: 0.05, momentum: 0.9, weight_decay: 1e-2, nesterov: false },
      mirror: { samples: 256, lr: 0.05, decay: 0.05, warmup_steps: 60, steps_per_batch: 1, sigma: 1 },
      align_every: 50,
    };
  }
  return {
    ...common,
    model: 'resnet20',
    epochs: 20,
    batch_size: 128,
    optimizer: { lr: 0.1, momentum: 0.9, weight_decay: 1e-3, nesterov: false },
    // Conv layers see every position as a noise sample; the 64-input fc needs the 32 samples.
    mirror: { samples: 32, lr: 0.05, decay: 0.05, warmup_steps: 60, steps_per_batch: 1, sigma: 1 },
    align_every: 100,
  };
}
