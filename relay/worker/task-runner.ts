/**
 * What the worker does with one task the relay sends on `/acn/task/1.0.0`:
 * check it is a validly signed task for this network whose input is the
 * signed bytes, for a model this worker offers; wait for a slot (concurrency
 * and CPU share); run it on the inference pool; sign the receipt (task, model,
 * output hash and size, units, backend, run time) with the worker's key.
 *
 * Tasks come from the relay (brokered: it escrowed the price, and it is who
 * pays), or, on the interactive path, from a requester that dialled the
 * worker directly over WebRTC: such a request must carry the relay's signed
 * assignment of this task to this worker, still valid (see
 * shared/messages/assignment.ts), so the worker never runs unescrowed work
 * for strangers. Each assignment runs once; a relayed (limited) connection
 * from anyone but the relay is refused. A task whose stream closes (the
 * requester gave up or went away) is aborted in the pool.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { sha256Hex } from '../../shared/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '../../shared/envelope/envelope.ts';
import type { AccountId, ModelId, TaskId } from '../../shared/identity/ids.ts';
import type { Signer } from '../../shared/identity/signer.ts';
import type { Ed25519Verifier } from '../../shared/identity/verifier.ts';
import type { ReceiptPayload } from '../../shared/messages/receipt.ts';
import { checkAssignment } from '../../shared/messages/assignment.ts';
import { decodeTaskPayload } from '../../shared/messages/task.ts';
import type { InferencePool, InferenceResult } from '../pool/inference-pool.ts';
import {
  MAX_TASK_MESSAGE_BYTES,
  messageChannel,
  parseTaskRequest,
  type TaskAnswer,
  type WireError,
} from '../scheduler/protocol.ts';
import { TaskRefusedError } from './errors.ts';
import type { TaskGate } from './task-gate.ts';

/** One task's progress, for the status line and logs. */
export type TaskEvent =
  | { readonly phase: 'started'; readonly task: TaskId; readonly model: ModelId }
  | {
      readonly phase: 'done';
      readonly task: TaskId;
      readonly model: ModelId;
      readonly runMs: number;
      readonly units: number;
      readonly threads: number;
    }
  | { readonly phase: 'failed'; readonly task: TaskId | undefined; readonly error: WireError };

export interface TaskRunnerInit {
  /** The relay's PeerId: the only peer tasks are taken from. */
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
  const now = init.now ?? Date.now;
  const readTimeoutMs = init.readTimeoutMs ?? 30_000;
  const directReadTimeoutMs = init.directReadTimeoutMs ?? 3_000;
  /** Direct tasks already taken, until their assignment expires: each assignment buys one run. */
  const taken = new Map<TaskId, number>();

  /** Throws unless `request` carries a valid, unused assignment of task `id` to this worker. */
  function admitDirect(request: unknown, id: TaskId): void {
    const account = init.account;
    if (account === undefined)
      throw new TaskRefusedError('unauthorized', 'this worker takes tasks from its relay only');
    const at = now();
    for (const [task, expires] of taken) if (expires < at) taken.delete(task);
    const assignment = (request as { assignment?: unknown }).assignment;
    const checked = checkAssignment(assignment, {
      verifier: init.verifier,
      network: init.network,
      worker: account,
      task: id,
      now: at,
    });
    if (!checked.ok) throw new TaskRefusedError('unauthorized', checked.error.message);
    if (taken.has(id)) throw new TaskRefusedError('unauthorized', 'this assignment was used already');
    taken.set(id, checked.value.expires);
  }

  /** `seen.task` is set as soon as the task's id is known, for the events of a task that fails later. */
  async function answer(
    request: unknown,
    signal: AbortSignal,
    seen: { task?: TaskId | undefined },
    direct: boolean,
  ): Promise<{ reply: TaskAnswer; done: TaskEvent }> {
    const parsed = parseTaskRequest(request);
    if (parsed === undefined) throw new TaskRefusedError('invalid-task', 'not a task request');
    const read = readMessage(parsed.task, 'task', decodeTaskPayload, init.verifier);
    if (!read.ok) throw new TaskRefusedError('invalid-task', `the task does not verify: ${read.error.message}`);
    const task = read.value;
    const p = task.payload;
    const id = task.id as TaskId;
    seen.task = id;
    if (p.net !== init.network) throw new TaskRefusedError('wrong-network', `this worker serves ${init.network}`);
    if (direct) admitDirect(request, id);
    if (parsed.input.length !== p.inputBytes || sha256Hex(parsed.input) !== p.input) {
      throw new TaskRefusedError(
        'input-mismatch',
        'the input does not match the hash and size the task was signed with',
      );
    }
    if (!init.offers(p.model)) throw new TaskRefusedError('unknown-model', `this worker does not offer ${p.model}`);
    const result: InferenceResult = await init.gate.run(
      () => {
        init.onEvent?.({ phase: 'started', task: id, model: p.model });
        return init.pool.run(p.model, parsed.input, { signal });
      },
      { signal },
    );
    const receipt: ReceiptPayload = {
      v: 1,
      net: init.network,
      task: id,
      model: p.model,
      output: result.outputHash,
      outputBytes: result.output.length,
      units: result.units,
      backend: result.backend,
      runMs: Math.round(result.runMs),
      ts: now(),
    };
    const signed = encodeEnvelope(await signEnvelope(init.signer, 'receipt', receipt));
    return {
      reply: { receipt: signed, output: result.output },
      done: {
        phase: 'done',
        task: id,
        model: p.model,
        runMs: result.runMs,
        units: result.units,
        threads: result.threads,
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
      controller.abort(new Error('the relay closed the task stream'));
    };
    stream.addEventListener('close', onClose);
    const signal = AbortSignal.any([controller.signal, init.signal]);
    const channel = messageChannel(stream, MAX_TASK_MESSAGE_BYTES);
    const seen: { task?: TaskId | undefined } = {};
    try {
      const wait = direct ? directReadTimeoutMs : readTimeoutMs;
      const request = await channel.read({ signal: AbortSignal.any([signal, AbortSignal.timeout(wait)]) });
      let reply: TaskAnswer;
      let event: TaskEvent;
      try {
        ({ reply, done: event } = await answer(request, signal, seen, direct));
      } catch (error) {
        if (signal.aborted) throw error;
        const wire = toWire(error);
        event = { phase: 'failed', task: seen.task, error: wire };
        reply = { error: wire };
      }
      await channel.write(reply, { signal });
      // Done only once the relay has the answer: a result lost on the way earns nothing.
      init.onEvent?.(event);
      seen.task = undefined;
      await stream.close({ signal }).catch(() => undefined);
    } catch (error) {
      if (seen.task !== undefined) {
        const reason: unknown = signal.aborted ? signal.reason : error;
        init.onEvent?.({
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

function toWire(error: unknown): WireError {
  const code = (error as { code?: unknown } | undefined)?.code;
  return {
    code: typeof code === 'string' ? code : 'internal',
    message: error instanceof Error ? error.message : 'the task failed',
  };
}
