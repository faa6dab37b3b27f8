import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import {
  concatBytes,
  leadingZeroBits,
  solvePow,
  utf8ToBytes,
  verifyPow,
  type PowProgress,
  type PowPuzzle,
} from '#core/index.ts';
import { signerFor, unhex } from '#test/network.ts';

const alice = signerFor('alice');
const bob = signerFor('bob');
const network = signerFor('relay').accountId;
const otherNetwork = signerFor('other relay').accountId;

const puzzle = (difficulty: number, publicKey = alice.publicKey, net = network): PowPuzzle => ({
  network: net,
  publicKey,
  difficulty,
});

/** The puzzle hash, built here from the documented formula. */
function powDigest(p: PowPuzzle, nonce: number): Uint8Array {
  const nonceBytes = new Uint8Array(8);
  new DataView(nonceBytes.buffer).setBigUint64(0, BigInt(nonce));
  return sha256(concatBytes(utf8ToBytes(`acn/v1/pow\0${p.network}\0`), p.publicKey, nonceBytes));
}

describe('leadingZeroBits', () => {
  it('counts zero bits before the first one bit', () => {
    const cases: [string, number][] = [
      ['', 0],
      ['ff', 0],
      ['80', 0],
      ['7f', 1],
      ['40', 1],
      ['01', 7],
      ['00', 8],
      ['0080', 8],
      ['0040', 9],
      ['0001', 15],
      ['000000', 24],
      ['00000001ff', 31],
      ['0000000080', 32],
      ['00'.repeat(8), 64],
      ['00'.repeat(32), 256],
      [`${'00'.repeat(31)}01`, 255],
    ];
    for (const [bytes, bits] of cases) expect(leadingZeroBits(unhex(bytes)), bytes).toBe(bits);
  });

  it('matches a bit-by-bit count on every single byte value', () => {
    for (let byte = 0; byte < 256; byte++) {
      const bits = byte.toString(2).padStart(8, '0').indexOf('1');
      expect(leadingZeroBits(new Uint8Array([byte, 0xff]))).toBe(bits === -1 ? 8 : bits);
    }
  });
});

describe('solvePow and verifyPow', () => {
  it('difficulty 0 is solved by the first nonce', async () => {
    expect(await solvePow(puzzle(0))).toEqual({ nonce: 0, difficulty: 0 });
    expect(await solvePow(puzzle(0), { startNonce: 7 })).toEqual({ nonce: 7, difficulty: 0 });
    expect(verifyPow(puzzle(0), { nonce: 123, difficulty: 0 })).toBe(true);
  });

  for (const difficulty of [1, 4, 8, 12]) {
    it(`solves and verifies difficulty ${difficulty}, with the first qualifying nonce`, async () => {
      const p = puzzle(difficulty);
      const solution = await solvePow(p);
      expect(solution.difficulty).toBe(difficulty);
      expect(verifyPow(p, solution)).toBe(true);
      expect(leadingZeroBits(powDigest(p, solution.nonce))).toBeGreaterThanOrEqual(difficulty);
      for (let nonce = 0; nonce < solution.nonce; nonce++) {
        if (leadingZeroBits(powDigest(p, nonce)) >= difficulty) expect.fail(`nonce ${nonce} already qualified`);
      }
    });
  }

  it('a solution is bound to the key and the network', async () => {
    const difficulty = 14;
    const solution = await solvePow(puzzle(difficulty));
    expect(verifyPow(puzzle(difficulty), solution)).toBe(true);
    // Each of these has a 2^-14 chance to pass by luck; the keys are fixed, so the outcome is too.
    expect(verifyPow(puzzle(difficulty, bob.publicKey), solution)).toBe(false);
    expect(verifyPow(puzzle(difficulty, alice.publicKey, otherNetwork), solution)).toBe(false);
    expect(leadingZeroBits(powDigest(puzzle(difficulty, bob.publicKey), solution.nonce))).toBeLessThan(difficulty);
    expect(leadingZeroBits(powDigest(puzzle(difficulty, alice.publicKey, otherNetwork), solution.nonce))).toBeLessThan(
      difficulty,
    );
  });

  it('a solution for another difficulty does not verify, even an easier one', async () => {
    const solution = await solvePow(puzzle(8));
    expect(verifyPow(puzzle(8), solution)).toBe(true);
    expect(verifyPow(puzzle(7), solution)).toBe(false);
    expect(verifyPow(puzzle(9), solution)).toBe(false);
    expect(verifyPow(puzzle(8), { ...solution, difficulty: 7 })).toBe(false);
  });

  it('a nonce that does not reach the difficulty fails', async () => {
    const p = puzzle(10);
    const solution = await solvePow(p);
    let wrong = solution.nonce + 1;
    while (leadingZeroBits(powDigest(p, wrong)) >= 10) wrong++;
    expect(verifyPow(p, { nonce: wrong, difficulty: 10 })).toBe(false);
  });

  it('verifyPow refuses malformed puzzles and nonces without throwing', () => {
    const p = puzzle(0);
    for (const nonce of [-1, 1.5, NaN, Infinity, 2 ** 53]) expect(verifyPow(p, { nonce, difficulty: 0 })).toBe(false);
    for (const difficulty of [-1, 65, 1.5, NaN]) {
      expect(verifyPow(puzzle(difficulty), { nonce: 0, difficulty })).toBe(false);
    }
    for (const publicKey of [new Uint8Array(31), new Uint8Array(33), 'key' as unknown as Uint8Array]) {
      expect(verifyPow({ ...p, publicKey }, { nonce: 0, difficulty: 0 })).toBe(false);
    }
  });

  it('solvePow refuses malformed puzzles', async () => {
    await expect(solvePow(puzzle(65))).rejects.toThrow(RangeError);
    await expect(solvePow(puzzle(-1))).rejects.toThrow(RangeError);
    await expect(solvePow(puzzle(1.5))).rejects.toThrow(RangeError);
    await expect(solvePow({ ...puzzle(1), publicKey: new Uint8Array(31) })).rejects.toThrow(RangeError);
  });
});

describe('progress and cancellation', () => {
  it('reports increasing attempts and a fraction in [0, 1], ending at 1', async () => {
    const reports: PowProgress[] = [];
    const p = puzzle(10);
    // Pick a batch size that takes several batches to reach the (deterministic) solution.
    const { nonce } = await solvePow(p);
    const batchSize = Math.max(1, Math.floor(nonce / 5));
    const solution = await solvePow(p, { batchSize, onProgress: (r) => reports.push(r) });
    expect(solution.nonce).toBe(nonce);
    expect(reports.length).toBeGreaterThan(2);
    for (const [i, report] of reports.entries()) {
      expect(report.expected).toBe(1024);
      expect(report.fraction).toBeGreaterThanOrEqual(0);
      expect(report.fraction).toBeLessThanOrEqual(1);
      const previous = reports[i - 1];
      if (previous) {
        expect(report.attempts).toBeGreaterThan(previous.attempts);
        expect(report.fraction).toBeGreaterThanOrEqual(previous.fraction);
      }
    }
    const last = reports.at(-1) as PowProgress;
    expect(last.fraction).toBe(1);
    expect(last.attempts).toBe(solution.nonce + 1);
    // Batch reports: attempts in whole batches, fraction 1 - e^(-attempts / expected).
    const first = reports[0] as PowProgress;
    expect(first.attempts).toBe(batchSize);
    expect(first.fraction).toBeCloseTo(1 - Math.exp(-batchSize / 1024), 12);
  });

  it('an AbortSignal stops the search with the signal reason', async () => {
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const reports: number[] = [];
    const search = solvePow(puzzle(64), {
      batchSize: 100,
      signal: controller.signal,
      onProgress: (r) => {
        reports.push(r.attempts);
        if (reports.length === 3) controller.abort(reason);
      },
    });
    await expect(search).rejects.toBe(reason);
    expect(reports).toEqual([100, 200, 300]);
  });

  it('aborting without a reason rejects with an AbortError', async () => {
    const controller = new AbortController();
    const search = solvePow(puzzle(64), {
      batchSize: 50,
      signal: controller.signal,
      onProgress: () => {
        controller.abort();
      },
    });
    await expect(search).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('an already aborted signal rejects before any work', async () => {
    let called = false;
    const search = solvePow(puzzle(0), { signal: AbortSignal.abort(), onProgress: () => (called = true) });
    await expect(search).rejects.toMatchObject({ name: 'AbortError' });
    expect(called).toBe(false);
  });

  it('yields to the event loop between batches', async () => {
    let ticks = 0;
    const interval = setInterval(() => ticks++, 0);
    const controller = new AbortController();
    let batches = 0;
    const search = solvePow(puzzle(64), {
      batchSize: 10,
      signal: controller.signal,
      onProgress: () => {
        if (++batches === 20) controller.abort();
      },
    });
    await expect(search).rejects.toMatchObject({ name: 'AbortError' });
    clearInterval(interval);
    expect(ticks).toBeGreaterThan(0);
  });
});
