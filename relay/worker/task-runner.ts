/**
 * What the Node worker does with one task sent on `/acn/task/1.0.0`: the
 * checks, the direct-path assignment rules, the receipt and the answer are
 * every desktop worker's (shared/client/worker-session/task-answerer.ts); this adds the
 * Node worker's own part: a model it offers, run on the onnxruntime-node
 * inference pool, which hashes the output off the main thread.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import type { AccountId, ModelId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { createTaskAnswerer, type TaskEvent } from '#client/worker-session/task-answerer.ts';
import type { InferencePool } from '#node/pool/inference-pool.ts';
import { TaskRefusedError } from './errors.ts';
import type { TaskGate } from './task-gate.ts';

export type { TaskEvent };

export interface TaskRunnerInit {
  /** The relay's PeerId: tasks from it need no assignment. */
  readonly relay: PeerId;
  /** The network id (the relay's account) tasks and receipts name. */
  readonly network: AccountId;
  readonly signer: Signer;
  readonly verifier: Ed25519Verifier;
  readonly gate: TaskGate;
  readonly pool: Pick<InferencePool, 'run'>;
  /** Whether the worker offers this model now. */
  readonly offers: (model: ModelId) => boolean;
  /** Aborts every running task (the worker is stopping). */
  readonly signal: AbortSignal;
  readonly onEvent?: (event: TaskEvent) => void;
  /** Default `Date.now`. */
  readonly now?: () => number;
  /** How long the relay may take to send the request. Default 30 s. */
  readonly readTimeoutMs?: number;
  /**
   * The worker's own account: direct tasks (from peers other than the relay)
   * must carry an assignment naming it. Default none: tasks from the relay only.
   */
  readonly account?: AccountId;
  /** How long a directly connected requester may take to send the request (it sends it at once). Default 3 s. */
  readonly directReadTimeoutMs?: number;
}

/** A stream handler for `/acn/task/1.0.0`. */
export function createTaskRunner(init: TaskRunnerInit): (stream: Stream, connection: Connection) => Promise<void> {
  return createTaskAnswerer({
    ...init,
    slots: init.gate,
    prepare: ({ model, input }) => {
      if (!init.offers(model)) throw new TaskRefusedError('unknown-model', `this worker does not offer ${model}`);
      // The pool's own refusals (pool-busy, inference-failed, ...) keep their codes on the wire.
      return (signal) => init.pool.run(model, input, { signal });
    },
  });
}
