/**
 * What the browser worker does with one task the relay sends on
 * `/acn/task/1.0.0`: check it is a validly signed task for this network, that
 * the input is the bytes the task was signed over (size and SHA-256), and
 * that the model is one this worker offers; wait for a slot; run the model
 * in a Web Worker; sign the receipt (task, model, output hash and size,
 * units, backend, run time) with the account key; answer with receipt and
 * output.
 *
 * Only the relay may send tasks: it escrowed the price, and it pays.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { sha256Hex } from '../../shared/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '../../shared/envelope/envelope.ts';
import type { AccountId, Hash, ModelId, TaskId } from '../../shared/identity/ids.ts';
import type { Signer } from '../../shared/identity/signer.ts';
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
  /** The only peer tasks are taken from. */
  readonly relay: PeerId;
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
}

export function createTaskHandler(init: TaskHandlerInit): (stream: Stream, connection: Connection) => Promise<void> {
  async function answer(
    request: unknown,
    signal: AbortSignal,
    seen: { task?: TaskId | undefined },
  ): Promise<{ reply: TaskAnswer; event: TaskEvent }> {
    const parsed = parseTaskRequest(request);
    if (parsed === undefined) throw new TaskRefusedError('invalid-task', 'not a task request');
    const read = readMessage(parsed.task, 'task', decodeTaskPayload, init.verifier);
    if (!read.ok) throw new TaskRefusedError('invalid-task', `the task does not verify: ${read.error.message}`);
    const p = read.value.payload;
    const id = read.value.id as TaskId;
    seen.task = id;
    if (p.net !== init.network) throw new TaskRefusedError('wrong-network', `this worker serves ${init.network}`);
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
      ts: Date.now(),
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
    if (!connection.remotePeer.equals(init.relay)) {
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
      const timeout = AbortSignal.timeout(init.readTimeoutMs ?? 30_000);
      const request = await channel.read({ signal: AbortSignal.any([signal, timeout]) });
      let reply: TaskAnswer;
      let event: TaskEvent;
      try {
        ({ reply, event } = await answer(request, signal, seen));
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

function toWire(error: unknown): WireError {
  const code = (error as { code?: unknown } | undefined)?.code;
  return {
    code: typeof code === 'string' ? code : 'internal',
    message: error instanceof Error ? error.message : 'the task failed',
  };
}
