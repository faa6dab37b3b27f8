/**
 * The specified random number generator of sampled generation: SplitMix64
 * (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
 * OOPSLA 2014), so anyone holding a task's seed can replay its sampled
 * answer in any language. Draw `i` of a generation is the `i`-th output of
 * the generator seeded with the task's seed; a draw's 53 high bits make a
 * float in [0, 1).
 */

const MASK = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;

export interface Prng {
  /** The next 64-bit output. */
  nextUint64(): bigint;
  /** The next output as a float in [0, 1): its high 53 bits / 2^53. */
  nextFloat(): number;
}

/** A SplitMix64 generator; `seed` is taken modulo 2^64. */
export function createSplitMix64(seed: bigint | number): Prng {
  let state = BigInt.asUintN(64, BigInt(seed));
  const nextUint64 = (): bigint => {
    state = (state + GOLDEN) & MASK;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
    return z ^ (z >> 31n);
  };
  return {
    nextUint64,
    nextFloat: () => Number(nextUint64() >> 11n) / 2 ** 53,
  };
}
