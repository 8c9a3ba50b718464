// The one error class of the dataset layer. Every message starts with the file
// or folder at fault and says what is wrong with it, so the CLI can print it as
// it is and refuse a bad dataset before training starts.

import { NowtError } from '../src/gpu/errors.ts';

/** A dataset file or folder that is missing, malformed or inconsistent. */
export class DatasetError extends NowtError {
  override name = 'DatasetError';
}
