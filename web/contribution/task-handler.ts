/**
 * What the browser worker does with one task sent on `/acn/task/1.0.0`: the
 * checks, the direct-path assignment rules (a phone that dialled this tab
 * over WebRTC brings the relay's assignment), the receipt and the answer are
 * every desktop worker's (shared/client/worker-session/task-answerer.ts); this adds the
 * browser worker's own part: not paused, a model it offers, an input its
 * pipeline decodes (which counts the units), run in a Web Worker.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import type { AccountId, ModelId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { createTaskAnswerer, type TaskEvent } from '#client/worker-session/task-answerer.ts';
import { TaskRefusedError } from './errors.ts';
import type { InferenceOutcome } from './inference-workers.ts';
import type { TaskSlots } from './task-slots.ts';

export type { TaskEvent };

export interface TaskHandlerInit {
  /** The relay's PeerId: tasks from it need no assignment. */
  readonly relay: PeerId;
  /**
   * This worker's own account: direct tasks (from peers other than the
   * relay) must carry an assignment naming it. Default none: tasks from the
   * relay only.
   */
  readonly account?: AccountId;
  /** The network id (the relay's account) tasks and receipts name. */
  readonly network: AccountId;
  readonly signer: Signer;
  readonly verifier: Ed25519Verifier;
  readonly slots: TaskSlots;
  /** The offered entry for `model`, or undefined when it is not offered now. */
  readonly offered: (model: ModelId) => ModelEntry | undefined;
  /** Why no task is taken now (paused), or undefined. */
  readonly pausedReason: () => string | undefined;
  readonly infer: (entry: ModelEntry, input: Uint8Array, signal: AbortSignal) => Promise<InferenceOutcome>;
  /** Aborts every running task (the worker is stopping). */
  readonly signal: AbortSignal;
  readonly onEvent: (event: TaskEvent) => void;
  /** How long the relay may take to send the request. Default 30 s. */
  readonly readTimeoutMs?: number;
  /** How long a directly connected requester may take to send the request (it sends it at once). Default 3 s. */
  readonly directReadTimeoutMs?: number;
  /** Default `Date.now`. */
  readonly now?: () => number;
}

export function createTaskHandler(init: TaskHandlerInit): (stream: Stream, connection: Connection) => Promise<void> {
  return createTaskAnswerer({
    ...init,
    prepare: ({ model, input }) => {
      const paused = init.pausedReason();
      if (paused !== undefined) throw new TaskRefusedError('paused', `this worker is paused: ${paused}`);
      const entry = init.offered(model);
      if (entry === undefined) throw new TaskRefusedError('unknown-model', `this worker does not offer ${model}`);
      const pipeline = pipelineFor(entry.pre);
      const decoded = pipeline?.decodeInput(input);
      if (pipeline === undefined || decoded?.ok !== true) {
        throw new TaskRefusedError('invalid-task', `the input is not valid for ${entry.name}`);
      }
      const units = pipeline.units(decoded.value);
      return async (signal) => {
        try {
          const result = await init.infer(entry, input, signal);
          return { output: result.output, units, backend: result.backend, runMs: result.ms, threads: result.threads };
        } catch (error) {
          if (signal.aborted) throw error;
          throw new TaskRefusedError('inference-failed', error instanceof Error ? error.message : String(error));
        }
      };
    },
  });
}
