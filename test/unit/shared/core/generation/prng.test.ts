import { describe, expect, it } from 'vitest';
import { createSplitMix64 } from '#core/generation/prng.ts';

describe('the sampler PRNG (SplitMix64)', () => {
  it('gives the published SplitMix64 sequence, so any implementation replays the same draws', () => {
    const prng = createSplitMix64(1234567);
    expect(Array.from({ length: 5 }, () => prng.nextUint64())).toEqual([
      6457827717110365317n,
      3203168211198807973n,
      9817491932198370423n,
      4593380528125082431n,
      16408922859458223821n,
    ]);
  });

  it('draws floats in [0, 1) from the high 53 bits, the same for a bigint and a number seed', () => {
    const a = createSplitMix64(42);
    const b = createSplitMix64(42n);
    for (let i = 0; i < 1000; i++) {
      const u = a.nextFloat();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      expect(b.nextFloat()).toBe(u);
    }
    expect(createSplitMix64(1234567).nextFloat()).toBe(Number(6457827717110365317n >> 11n) / 2 ** 53);
  });
});
