/**
 * What the browser worker does with one task the relay sends on
 * `/acn/task/1.0.0`: check it is a validly signed task for this network, that
 * the input is the bytes the task was signed over (size and SHA-256), and
 * that the model is one this worker offers; wait for a slot; run the model
 * in a Web Worker; sign the receipt (task, model, output hash and size,
 * units, backend, run time) with the account key; answer with receipt and
 * output.
 *
 * Tasks come from the relay (brokered: it escrowed the price, and it pays),
 * or, on the interactive path, from a requester (a phone) that dialled this
 * tab directly over WebRTC. Such a request must carry the relay's signed
 * assignment of this task to this worker, still valid (see
 * shared/messages/assignment.ts), so the tab never runs unescrowed work for
 * strangers; each assignment buys one run, and a relayed (limited)
 * connection from anyone but the relay is refused: the circuit is the
 * relay's bandwidth, not the requester's. Mirrors relay/worker/task-runner.ts.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { sha256Hex } from '../../shared/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '../../shared/envelope/envelope.ts';
import type { AccountId, Hash, ModelId, TaskId } from '../../shared/identity/ids.ts';
import type { Signer } from '../../shared/identity/signer.ts';
import { checkAssignment } from '../../shared/messages/assignment.ts';
import type { Ed25519Verifier } from '../../shared/identity/verifier.ts';
import type { ModelEntry } from '../../shared/models/catalogue.ts';
import { pipelineFor } from '../../shared/models/tasks/registry.ts';
import type { ReceiptPayload } from '../../shared/messages/receipt.ts';
import { decodeTaskPayload } from '../../shared/messages/task.ts';
import {
  MAX_TASK_MESSAGE_BYTES,
  messageChannel,
  parseTaskRequest,
  type TaskAnswer,
  type WireError,
} from '../../shared/p2p/task-protocol.ts';
import { TaskRefusedError } from './errors.ts';
import type { InferenceOutcome } from './inference-workers.ts';
import type { TaskSlots } from './task-slots.ts';

/** One task's progress, for the status. */
export type TaskEvent =
  | { readonly phase: 'started'; readonly task: TaskId; readonly model: ModelId }
  | {
      readonly phase: 'done';
      readonly task: TaskId;
      readonly model: ModelId;
      readonly runMs: number;
      readonly threads: number;
      readonly backend: 'wasm' | 'webgpu';
    }
  | { readonly phase: 'failed'; readonly task: TaskId | undefined; readonly error: WireError };

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
  const now = init.now ?? Date.now;
  /** Direct tasks already taken, until their assignment expires: each assignment buys one run. */
  const taken = new Map<TaskId, number>();

  /** Throws unless `request` carries a valid, unused assignment of task `id` to this worker. */
  function admitDirect(request: unknown, id: TaskId): void {
    const account = init.account;
    if (account === undefined) {
      throw new UnassignedTaskError('this worker takes tasks from its relay only');
    }
    const at = now();
    for (const [task, expires] of taken) if (expires < at) taken.delete(task);
    const checked = checkAssignment((request as { assignment?: unknown }).assignment, {
      verifier: init.verifier,
      network: init.network,
      worker: account,
      task: id,
      now: at,
    });
    if (!checked.ok) throw new UnassignedTaskError(checked.error.message);
    if (taken.has(id)) throw new UnassignedTaskError('this assignment was used already');
    taken.set(id, checked.value.expires);
  }

  async function answer(
    request: unknown,
    signal: AbortSignal,
    seen: { task?: TaskId | undefined },
    direct: boolean,
  ): Promise<{ reply: TaskAnswer; event: TaskEvent }> {
    const parsed = parseTaskRequest(request);
    if (parsed === undefined) throw new TaskRefusedError('invalid-task', 'not a task request');
    const read = readMessage(parsed.task, 'task', decodeTaskPayload, init.verifier);
    if (!read.ok) throw new TaskRefusedError('invalid-task', `the task does not verify: ${read.error.message}`);
    const p = read.value.payload;
    const id = read.value.id as TaskId;
    seen.task = id;
    if (p.net !== init.network) throw new TaskRefusedError('wrong-network', `this worker serves ${init.network}`);
    // Before anything costs a slot: a direct task is run only on the relay's word that it is escrowed.
    if (direct) admitDirect(request, id);
    if (parsed.input.length !== p.inputBytes || sha256Hex(parsed.input) !== p.input) {
      throw new TaskRefusedError(
        'input-mismatch',
        'the input does not match the hash and size the task was signed with',
      );
    }
    const paused = init.pausedReason();
    if (paused !== undefined) throw new TaskRefusedError('paused', `this worker is paused: ${paused}`);
    const entry = init.offered(p.model);
    if (entry === undefined) throw new TaskRefusedError('unknown-model', `this worker does not offer ${p.model}`);
    const pipeline = pipelineFor(entry.pre);
    const decoded = pipeline?.decodeInput(parsed.input);
    if (pipeline === undefined || decoded?.ok !== true) {
      throw new TaskRefusedError('invalid-task', `the input is not valid for ${entry.name}`);
    }
    const units = pipeline.units(decoded.value);
    const result = await init.slots.run(
      async () => {
        init.onEvent({ phase: 'started', task: id, model: p.model });
        try {
          return await init.infer(entry, parsed.input, signal);
        } catch (error) {
          if (signal.aborted) throw error;
          throw new TaskRefusedError('inference-failed', error instanceof Error ? error.message : String(error));
        }
      },
      { signal },
    );
    const receipt: ReceiptPayload = {
      v: 1,
      net: init.network,
      task: id,
      model: p.model,
      output: sha256Hex(result.output) as Hash,
      outputBytes: result.output.length,
      units,
      backend: result.backend,
      runMs: Math.round(result.ms),
      ts: now(),
    };
    const signed = encodeEnvelope(await signEnvelope(init.signer, 'receipt', receipt));
    return {
      reply: { receipt: signed, output: result.output },
      event: {
        phase: 'done',
        task: id,
        model: p.model,
        runMs: result.ms,
        threads: result.threads,
        backend: result.backend,
      },
    };
  }

  return async (stream, connection) => {
    const direct = !connection.remotePeer.equals(init.relay);
    // Nobody but the relay escrows and pays for work: others need its assignment, over a direct connection.
    if (direct && (init.account === undefined || connection.limits !== undefined)) {
      stream.abort(new Error('this worker takes tasks from its relay, or directly with the relay’s assignment'));
      return;
    }
    const controller = new AbortController();
    const onClose = (): void => {
      controller.abort(new Error(direct ? 'the requester closed the task stream' : 'the relay closed the task stream'));
    };
    stream.addEventListener('close', onClose);
    const signal = AbortSignal.any([controller.signal, init.signal]);
    const channel = messageChannel(stream, MAX_TASK_MESSAGE_BYTES);
    const seen: { task?: TaskId | undefined } = {};
    try {
      const wait = direct ? (init.directReadTimeoutMs ?? 3_000) : (init.readTimeoutMs ?? 30_000);
      const timeout = AbortSignal.timeout(wait);
      const request = await channel.read({ signal: AbortSignal.any([signal, timeout]) });
      let reply: TaskAnswer;
      let event: TaskEvent;
      try {
        ({ reply, event } = await answer(request, signal, seen, direct));
      } catch (error) {
        if (signal.aborted) throw error;
        const wire = toWire(error);
        event = { phase: 'failed', task: seen.task, error: wire };
        reply = { error: wire };
      }
      await channel.write(reply, { signal });
      // Done only once the relay has the answer: a result lost on the way earns nothing.
      init.onEvent(event);
      seen.task = undefined;
      await stream.close({ signal }).catch(() => undefined);
    } catch (error) {
      if (seen.task !== undefined) {
        const reason: unknown = signal.aborted ? signal.reason : error;
        init.onEvent({
          phase: 'failed',
          task: seen.task,
          error: { code: 'aborted', message: reason instanceof Error ? reason.message : String(reason) },
        });
      }
      stream.abort(error instanceof Error ? error : new Error(String(error)));
    } finally {
      stream.removeEventListener('close', onClose);
    }
  };
}

/**
 * A direct task without a valid, unused assignment naming this worker. Its
 * wire code is the one the Node worker answers in the same case, so a
 * requester tells the refusal apart from a failed run whichever worker it
 * dialled.
 */
export class UnassignedTaskError extends Error {
  override readonly name = 'UnassignedTaskError';
  readonly code = 'unauthorized';
}

function toWire(error: unknown): WireError {
  const code = (error as { code?: unknown } | undefined)?.code;
  return {
    code: typeof code === 'string' ? code : 'internal',
    message: error instanceof Error ? error.message : 'the task failed',
  };
}
