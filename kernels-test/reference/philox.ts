// Philox4x32-10 counter-based RNG (Salmon et al., SC 2011; Random123's
// philox4x32), plus the engine's mapping from (seed, stream, index) to a
// standard normal. The WGSL generator must mirror this file exactly.
//
// Engine mapping, for element `index` of stream `stream` under `seed`:
//   key     = (seed, 0)
//   counter = (floor(index / 4), stream, 0, 0)
//   (r0, r1, r2, r3) = philox4x32(counter, key)
//   (z0, z1) = boxMuller(uniformFromU32(r0), uniformFromU32(r1))
//   (z2, z3) = boxMuller(uniformFromU32(r2), uniformFromU32(r3))
//   element index takes z[index mod 4].
// So four consecutive elements share one Philox call; a thread that owns an
// aligned group of four computes them all from one call.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32. Split b into 16-bit halves so every partial product is exact in a double. */
export function mulhi32(a: number, b: number): number {
  a >>>= 0;
  b >>>= 0;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const lo = a * bl; // < 2^48, exact
  const hi = a * bh; // < 2^48, exact; weighs 2^16
  // a·b = hi·2^16 + lo; take floor(/2^32) in two exact steps.
  const carry = Math.floor((lo / 65536 + (hi % 65536)) / 65536);
  return (Math.floor(hi / 65536) + carry) >>> 0;
}

function round(c: readonly number[], k0: number, k1: number): number[] {
  const hi0 = mulhi32(M0, c[0]);
  const lo0 = Math.imul(M0, c[0]) >>> 0;
  const hi1 = mulhi32(M1, c[2]);
  const lo1 = Math.imul(M1, c[2]) >>> 0;
  return [(hi1 ^ c[1] ^ k0) >>> 0, lo1, (hi0 ^ c[3] ^ k1) >>> 0, lo0];
}

function checkU32(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new Error(`${op}(): ${name}=${v} must be an integer in [0, 2^32)`);
  }
}

/** Ten Philox rounds; the key is bumped by the Weyl constants between rounds. */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): [number, number, number, number] {
  counter.forEach((v, i) => checkU32('philox4x32', `counter[${i}]`, v));
  key.forEach((v, i) => checkU32('philox4x32', `key[${i}]`, v));
  let c: number[] = [...counter];
  let k0 = key[0];
  let k1 = key[1];
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    c = round(c, k0, k1);
  }
  return [c[0], c[1], c[2], c[3]];
}

/** u32 → ((u >>> 8) + 1)·2^-24, a multiple of 2^-24 in (0, 1]: never 0, so log() is finite. Exact in f32. */
export function uniformFromU32(u: number): number {
  return ((u >>> 8) + 1) * 2 ** -24;
}

/** Two independent N(0,1) from two uniforms in (0, 1]: r = sqrt(−2 ln u1), θ = 2π·u2 → (r cos θ, r sin θ). */
export function boxMuller(u1: number, u2: number): [number, number] {
  const r = Math.sqrt(-2 * Math.log(u1));
  const t = 2 * Math.PI * u2;
  return [r * Math.cos(t), r * Math.sin(t)];
}

/** Standard normal for element `index` of `stream` under `seed` (mapping at the top of this file). */
export function philoxNormal(seed: number, stream: number, index: number): number {
  checkU32('philoxNormal', 'seed', seed);
  checkU32('philoxNormal', 'stream', stream);
  if (!Number.isInteger(index) || index < 0 || index >= 2 ** 34) {
    throw new Error(`philoxNormal(): index=${index} must be an integer in [0, 2^34)`);
  }
  const r = philox4x32([Math.floor(index / 4), stream, 0, 0], [seed, 0]);
  const lane = index % 4;
  const pair = lane < 2 ? 0 : 2;
  const z = boxMuller(uniformFromU32(r[pair]), uniformFromU32(r[pair + 1]));
  return z[lane % 2];
}

/** philoxNormal for indices 0 … count−1, scaled by `scale`. */
export function philoxNormals(seed: number, stream: number, count: number, scale = 1): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = scale * philoxNormal(seed, stream, i);
  return out;
}
