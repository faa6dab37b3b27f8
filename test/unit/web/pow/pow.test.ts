/**
 * The onboarding proof-of-work solved in Web Workers, in real Chromium:
 * a valid solution with progress, from one worker or several, and a cancel
 * that terminates the workers and rejects with an AbortError.
 */
import { describe, expect, it } from 'vitest';
import { generateNobleSigner } from '#core/identity/signer.ts';
import { verifyPow, type PowProgress, type PowPuzzle } from '#core/pow/pow.ts';
import { solvePow } from '#web/pow/solve-pow.ts';

function puzzle(difficulty: number): PowPuzzle {
  return {
    network: generateNobleSigner().accountId,
    publicKey: generateNobleSigner().publicKey,
    difficulty,
  };
}

describe('solvePow in workers', () => {
  it('finds a valid solution and reports progress', async () => {
    const p = puzzle(16);
    const progress: PowProgress[] = [];
    const started = performance.now();
    const solution = await solvePow(p, { workers: 1, onProgress: (x) => progress.push(x) });
    const ms = performance.now() - started;
    expect(verifyPow(p, solution)).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.expected).toBe(2 ** 16);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]?.attempts).toBeGreaterThanOrEqual(progress[i - 1]?.attempts ?? 0);
      expect(progress[i]?.fraction).toBeGreaterThanOrEqual(0);
      expect(progress[i]?.fraction).toBeLessThanOrEqual(1);
    }
    const attempts = progress.at(-1)?.attempts ?? 0;
    console.info(
      `pow difficulty 16: ${attempts} hashes in ${ms.toFixed(0)} ms (${((attempts / ms) * 1000).toFixed(0)}/s)`,
    );
  });

  it('splits the search across several workers', async () => {
    const p = puzzle(14);
    const solution = await solvePow(p, { workers: 2 });
    expect(verifyPow(p, solution)).toBe(true);
  });

  it('solves difficulty 0 at once', async () => {
    const p = puzzle(0);
    expect(verifyPow(p, await solvePow(p))).toBe(true);
  });

  it('cancels: the workers stop and the promise rejects with an AbortError', async () => {
    const controller = new AbortController();
    const progress: PowProgress[] = [];
    // 40 bits: out of reach, so only the cancel ends it.
    const solving = solvePow(puzzle(40), {
      workers: 2,
      signal: controller.signal,
      onProgress: (x) => {
        progress.push(x);
        if (progress.length === 3) controller.abort();
      },
    });
    await expect(solving).rejects.toMatchObject({ name: 'AbortError' });
    const seen = progress.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Terminated workers report nothing more.
    expect(progress.length).toBe(seen);
    await expect(solvePow(puzzle(8), { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects a puzzle the solver refuses', async () => {
    await expect(solvePow({ ...puzzle(8), difficulty: 65 }, { workers: 1 })).rejects.toMatchObject({
      name: 'RangeError',
    });
  });
});
