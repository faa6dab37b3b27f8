/**
 * Solves the onboarding proof-of-work in Web Workers, so the page stays
 * responsive while the device hashes (difficulty 18 is about 260,000 hashes
 * on average). Several workers split the nonces into disjoint ranges; the
 * first solution wins and every worker is terminated.
 */
import { verifyPow, type PowProgress, type PowPuzzle, type PowSolution } from '#core/pow/pow.ts';
import type { PowWorkerMessage, PowWorkerRequest } from './pow-messages.ts';

export interface SolvePowOptions {
  /** Cancels the search: the workers are terminated and the promise rejects with the signal's reason (an `AbortError`). */
  readonly signal?: AbortSignal;
  /** Called as the workers report, with their attempts summed. */
  readonly onProgress?: (progress: PowProgress) => void;
  /** Workers to run. Default: one less than the device's cores, from 1 to 4. */
  readonly workers?: number;
}

/** Each worker searches its own 2^40 nonces: more than any difficulty up to 40 bits will ever need. */
const NONCE_RANGE = 2 ** 40;

/** Finds a nonce that solves `puzzle`, off the main thread. */
export function solvePow(puzzle: PowPuzzle, options: SolvePowOptions = {}): Promise<PowSolution> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const count = Math.max(1, Math.floor(options.workers ?? defaultWorkers()));
  const expected = 2 ** puzzle.difficulty;
  const attempts = new Array<number>(count).fill(0);
  const workers: Worker[] = [];

  return new Promise<PowSolution>((resolve, reject) => {
    let done = false;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      for (const worker of workers) worker.terminate();
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => {
      finish(() => {
        reject(signal?.reason as Error);
      });
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    for (let index = 0; index < count; index++) {
      const worker = new Worker(new URL('./pow-worker.ts', import.meta.url), { type: 'module', name: 'acn-pow' });
      workers.push(worker);
      worker.onmessage = ({ data }: MessageEvent<PowWorkerMessage>) => {
        if (done) return; // a message already on its way when the workers were terminated
        if (data.type === 'error') {
          finish(() => {
            reject(Object.assign(new Error(data.message), { name: data.name }));
          });
          return;
        }
        attempts[index] = data.attempts;
        const total = attempts.reduce((sum, n) => sum + n, 0);
        if (data.type === 'progress') {
          options.onProgress?.({ attempts: total, expected, fraction: 1 - Math.exp(-total / expected) });
          return;
        }
        // A worker's answer is checked here too: one hash, and no trust in a worker's arithmetic.
        const solution = data.solution;
        finish(() => {
          if (verifyPow(puzzle, solution)) resolve(solution);
          else reject(new Error(`the proof-of-work worker returned a wrong solution (nonce ${solution.nonce})`));
        });
      };
      worker.onerror = (event) => {
        event.preventDefault();
        finish(() => {
          reject(new Error(`the proof-of-work worker failed: ${event.message}`));
        });
      };
      const request: PowWorkerRequest = { puzzle, startNonce: index * NONCE_RANGE };
      worker.postMessage(request);
    }
  });
}

function defaultWorkers(): number {
  const cores = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency ?? 2;
  return Math.min(4, Math.max(1, cores - 1));
}
