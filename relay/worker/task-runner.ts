/**
 * What the worker does with one task the relay sends on `/acn/task/1.0.0`:
 * check it is a validly signed task for this network whose input is the
 * signed bytes, for a model this worker offers; wait for a slot (concurrency
 * and CPU share); run it on the inference pool; sign the receipt (task, model,
 * output hash and size, units, backend, run time) with the worker's key.
 *
 * Only the relay may send tasks: it escrowed the price, and it is who pays.
 * A task whose stream closes (the relay gave up or went away) is aborted in
 * the pool.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { sha256Hex } from '../../shared/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '../../shared/envelope/envelope.ts';
import type { AccountId, ModelId, TaskId } from '../../shared/identity/ids.ts';
import type { Signer } from '../../shared/identity/signer.ts';
import type { Ed25519Verifier } from '../../shared/identity/verifier.ts';
import type { ReceiptPayload } from '../../shared/messages/receipt.ts';
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
}

/** A stream handler for `/acn/task/1.0.0`. */
export function createTaskRunner(init: TaskRunnerInit): (stream: Stream, connection: Connection) => Promise<void> {
  const now = init.now ?? Date.now;
  const readTimeoutMs = init.readTimeoutMs ?? 30_000;

  /** `seen.task` is set as soon as the task's id is known, for the events of a task that fails later. */
  async function answer(
    request: unknown,
    signal: AbortSignal,
    seen: { task?: TaskId | undefined },
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
    if (!connection.remotePeer.equals(init.relay)) {
      // Nobody but the relay escrows and pays for work.
      stream.abort(new Error('this worker takes tasks from its relay only'));
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
      const request = await channel.read({ signal: AbortSignal.any([signal, AbortSignal.timeout(readTimeoutMs)]) });
      let reply: TaskAnswer;
      let event: TaskEvent;
      try {
        ({ reply, done: event } = await answer(request, signal, seen));
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
