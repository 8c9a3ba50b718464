// Naive float64 reference for shaders/reduce.wgsl: column sums of a
// row-major rows×cols matrix (the linear layer's bias gradient Σ_rows δy).

import { checkLength, checkPositiveInt } from './check.ts';

export function columnSum(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  checkPositiveInt('columnSum', 'rows', rows);
  checkPositiveInt('columnSum', 'cols', cols);
  checkLength('columnSum', 'x', x, rows * cols, 'rows·cols');
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += x[r * cols + c];
  return out;
}
