// The model a run trains: its config's model, built for the dataset's
// classes, channels and image size (a size the model cannot take is refused
// here, with the smallest that works).

import type { Dataset } from '../../datasets/types.ts';
import type { Graph } from '../graph/ir.ts';
import { buildModel } from '../graph/models/index.ts';
import type { TrainConfig } from './config.ts';

export function modelFor(config: TrainConfig, dataset: Dataset): Graph {
  return buildModel(config.model, {
    numClasses: dataset.classes.length,
    inChannels: dataset.channels,
    inputHW: dataset.imageSize,
    ...(config.hidden ? { hidden: config.hidden } : {}),
  });
}
