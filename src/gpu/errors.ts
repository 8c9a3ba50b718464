// Typed errors for the recurring kinds of failure. Messages start with the op
// and quote the offending values, so the CLI can print them as they are.

export class NowtError extends Error {
  override name = 'NowtError';
}

/** A tensor shape or size that an op cannot take. */
export class ShapeError extends NowtError {
  override name = 'ShapeError';
}

/** A request beyond what the adapter allows (buffer size, workgroups, ...). */
export class LimitError extends NowtError {
  override name = 'LimitError';
}

/** A feature, dtype or option this build or adapter does not support. */
export class UnsupportedError extends NowtError {
  override name = 'UnsupportedError';
}

/** A WGSL compile error, with file, line and message. */
export class CompileError extends NowtError {
  override name = 'CompileError';
}

/** No adapter, device lost, or an uncaptured GPU validation error. */
export class DeviceError extends NowtError {
  override name = 'DeviceError';
}
