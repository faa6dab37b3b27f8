/**
 * A module Web Worker that searches for an onboarding proof-of-work solution
 * with shared/pow/pow.ts's solver, off the page's main thread, and posts its
 * progress after every batch. solve-pow.ts starts one or more of these, each
 * on its own range of nonces, and terminates them when done or cancelled.
 */
import { solvePow } from '#core/pow/pow.ts';
import type { PowWorkerMessage, PowWorkerRequest } from './pow-messages.ts';

// This file runs in a DedicatedWorkerGlobalScope; web/ is typed with the DOM's globals.
const scope = globalThis as unknown as {
  postMessage(message: PowWorkerMessage): void;
  onmessage: ((event: MessageEvent<PowWorkerRequest>) => void) | null;
};

scope.onmessage = ({ data }) => {
  let attempts = 0;
  solvePow(data.puzzle, {
    startNonce: data.startNonce,
    onProgress: (progress) => {
      attempts = progress.attempts;
      scope.postMessage({ type: 'progress', attempts });
    },
  }).then(
    (solution) => {
      scope.postMessage({ type: 'solution', solution, attempts });
    },
    (error: unknown) => {
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      scope.postMessage({ type: 'error', name, message });
    },
  );
};
