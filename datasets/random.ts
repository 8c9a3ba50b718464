// Counter-based random numbers: every value is a hash of a key (seed, epoch,
// position, …) and a counter, with no state carried between calls. The data
// order and the augmentation of each example are therefore pure functions of
// (seed, epoch, position), so a resumed run needs only those to reproduce the
// exact same batches, in any order and in any process.

const TWO_POW_32 = 4294967296;

/** Mixes one 32-bit word into a 32-bit hash state (murmur3's finaliser after a multiply). */
function absorb(h: number, word: number): number {
  h = Math.imul(h ^ (word >>> 0), 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Splits a non-negative integer (up to 2^53) into its low and high 32-bit words. */
function words(n: number): [number, number] {
  return [n >>> 0, Math.floor(n / TWO_POW_32) >>> 0];
}

/** A deterministic generator keyed by a few integers; draws are hashes of (key, counter). */
export class CounterRandom {
  private readonly key: number;
  private counter = 0;

  constructor(...keyParts: number[]) {
    let h = 0x6a09e667;
    for (const part of keyParts) {
      if (!Number.isInteger(part) || part < 0) throw new RangeError(`CounterRandom: key parts must be non-negative integers, got ${part}`);
      const [lo, hi] = words(part);
      h = absorb(absorb(h, lo), hi);
    }
    this.key = h;
  }

  /** The next 32-bit unsigned integer. */
  uint32(): number {
    const c = this.counter++;
    return absorb(absorb(this.key, c), 0xbb67ae85);
  }

  /** Uniform in [0, 1) with 53 bits. */
  uniform(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** A uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** A standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
}

// Domain tags keep the streams for different purposes apart under one seed.
const ORDER_STREAM = 1;
const AUGMENT_STREAM = 2;
export const SYNTHETIC_STREAM = 3;

/** The generator for the augmentation of the example at `position` of epoch `epoch`. */
export function augmentRandom(seed: number, epoch: number, position: number): CounterRandom {
  return new CounterRandom(AUGMENT_STREAM, seed, epoch, position);
}

/** The generator that shuffles epoch `epoch`. */
export function orderRandom(seed: number, epoch: number): CounterRandom {
  return new CounterRandom(ORDER_STREAM, seed, epoch);
}
