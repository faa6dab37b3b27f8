/** What solve-pow.ts and pow-worker.ts say to each other. */
import type { PowPuzzle, PowSolution } from '#core/pow/pow.ts';

/** Page to worker: search from `startNonce` upwards. */
export interface PowWorkerRequest {
  readonly puzzle: PowPuzzle;
  readonly startNonce: number;
}

/** Worker to page. `attempts` counts this worker's nonces tried so far. */
export type PowWorkerMessage =
  | { readonly type: 'progress'; readonly attempts: number }
  | { readonly type: 'solution'; readonly solution: PowSolution; readonly attempts: number }
  | { readonly type: 'error'; readonly name: string; readonly message: string };
