// Host-side argument checks shared by the references. Messages follow the
// engine convention: `op(): what=value must ...`.

export function checkPositiveInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new Error(`${op}(): ${name}=${v} must be a positive integer`);
  }
}

export function checkNonNegativeInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) {
    throw new Error(`${op}(): ${name}=${v} must be a non-negative integer`);
  }
}

export function checkLength(op: string, name: string, a: ArrayLike<number>, expected: number, dims: string): void {
  if (a.length !== expected) {
    throw new Error(`${op}(): ${name}.length=${a.length} must equal ${dims}=${expected}`);
  }
}
