// nowt's version, as runs record it (config.json, checkpoints, reports). Kept
// equal to package.json's by kernels-test/train-config.test.ts.
export const NOWT_VERSION = '0.2.0';
