// Seeded inputs for reference tests: mulberry32 (32-bit state, period 2^32),
// good enough for test data and reproducible across runs and platforms.

export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One standard normal from a uniform [0,1) source (Box–Muller, cosine branch). */
export function randn(rand: () => number): number {
  const u1 = 1 - rand(); // (0,1], so the log is finite
  const u2 = rand();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** n samples of N(0, scale²). */
export function randomArray(n: number, seed: number, scale = 1): Float64Array {
  const rand = seededRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * randn(rand);
  return out;
}

/** n samples uniform in [lo, hi). */
export function randomUniformArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const rand = seededRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}
