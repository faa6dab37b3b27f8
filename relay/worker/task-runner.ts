/**
 * How the Node worker runs one task: the checks, the direct-path assignment
 * rules, the slots, the receipt and the answer are every desktop worker's
 * (shared/client/worker-session/); this is the Node worker's own part, the
 * session's `prepare`: a model it offers, run on the onnxruntime-node
 * inference pool, which hashes the output off the main thread. A text
 * generation's pieces stream out of the pool's thread to the session (which
 * sends them on to the task's sender), and the requester's stop reaches the
 * pool as the signal's `StopRequest`, which ends the generation with what it
 * made.
 */
import type { ModelId } from '#core/identity/ids.ts';
import type { TaskAnswererInit, TaskEvent } from '#client/worker-session/task-answerer.ts';
import type { InferencePool } from '#node/pool/inference-pool.ts';
import { TaskRefusedError } from './errors.ts';

export type { TaskEvent };

export interface TaskRunnerInit {
  readonly pool: Pick<InferencePool, 'run'>;
  /** Whether the worker offers this model now. */
  readonly offers: (model: ModelId) => boolean;
}

/** The session's `prepare` for the Node worker: refuses a model it does not offer, else runs it on the pool. */
export function createTaskRunner(init: TaskRunnerInit): TaskAnswererInit['prepare'] {
  return ({ model, input }) => {
    if (!init.offers(model)) throw new TaskRefusedError('unknown-model', `this worker does not offer ${model}`);
    // The pool's own refusals (pool-busy, inference-failed, ...) keep their codes on the wire.
    return (signal, { onText }) => init.pool.run(model, input, { signal, onText });
  };
}
