// openDataset: dispatches on the dataset name to its parser.

import { openCifarDataset } from './cifar.ts';
import { DatasetError } from './errors.ts';
import { openImageFolder } from './imagefolder.ts';
import { openIdxDataset } from './mnist.ts';
import { openSynthetic } from './synthetic.ts';
import { DATASET_NAMES, type Dataset, type DatasetOptions } from './types.ts';

/** Opens and fully validates the dataset's files (ImageFolder: the tree; see validateImages for pixels). */
export async function openDataset(opts: DatasetOptions): Promise<Dataset> {
  switch (opts.name) {
    case 'fashion-mnist':
    case 'mnist':
      return openIdxDataset(opts.name, opts);
    case 'cifar10':
    case 'cifar100':
      return openCifarDataset(opts.name, opts);
    case 'imagefolder':
      return openImageFolder(opts);
    case 'synthetic':
      return openSynthetic(opts);
    default:
      throw new DatasetError(`unknown dataset "${String(opts.name)}"; known: ${DATASET_NAMES.join(', ')}`);
  }
}
