/**
 * What a desktop worker (Node or browser) does with one task sent on
 * `/acn/task/1.0.0`: check it is a validly signed task for this network whose
 * input is the bytes it was signed over (size and SHA-256); let the worker
 * check the rest (a model it offers, not paused) and say how to run it; wait
 * for a slot; run it; sign the receipt (task, model, output hash and size,
 * units, backend, run time) with the worker's key; answer `{ receipt, output }`,
 * or `{ error: { code, message } }` when refused.
 *
 * Tasks come from the relay (brokered: it escrowed the price, and it is who
 * pays), or, on the interactive path, from a requester that dialled the
 * worker directly over WebRTC: such a request must carry the relay's signed
 * assignment of this task to this worker, still valid (see
 * shared/messages/assignment.ts), so the worker never runs unescrowed work
 * for strangers. Each assignment buys one run; a relayed (limited)
 * connection from anyone but the relay is refused: the circuit is the relay's
 * bandwidth, not the requester's. A task whose stream closes (the sender gave
 * up or went away) is aborted.
 *
 * A text generation streams: each piece's text goes to the sender as a
 * `{ text: { index, text } }` message as soon as the runner reports it, and
 * the final answer follows them. While the task runs the sender may send
 * `{ stop: <signed task/stop> }`; a stop signed by the task's requester for
 * this task on this network aborts the run with a {@link StopRequest}, which
 * ends a generation with what it made (its result carries the stop), and
 * that shorter result is answered and receipted as usual. A stop that came
 * before the run produced anything (it was still waiting for a slot) is
 * answered `{ error: { code: 'stopped' } }`.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '#core/envelope/envelope.ts';
import { StopRequest } from '#core/generation/stop-request.ts';
import type { AccountId, Hash, ModelId, TaskId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { checkAssignment } from '#core/messages/assignment.ts';
import type { Backend, ReceiptPayload } from '#core/messages/receipt.ts';
import { decodeStopPayload, decodeTaskPayload } from '#core/messages/task.ts';
import {
  MAX_TASK_MESSAGE_BYTES,
  messageChannel,
  parseStopMessage,
  parseTaskRequest,
  type MessageChannel,
  type TaskAnswer,
  type WireError,
} from '../p2p/task-protocol.ts';
import { TaskRefusedError } from './errors.ts';
import type { TaskSlots } from './task-slots.ts';

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
      readonly backend: Backend;
    }
  | { readonly phase: 'failed'; readonly task: TaskId | undefined; readonly error: WireError };

/** A task that passed the checks every worker makes, for the worker's own. */
export interface CheckedTask {
  readonly id: TaskId;
  readonly model: ModelId;
  /** The request's input: the bytes the task was signed over. */
  readonly input: Uint8Array;
}

/** What a run is given besides its signal. */
export interface TaskRunOptions {
  /**
   * Text generation: call with each generated piece's index and the text it
   * makes final, as it is made; the sender gets it at once.
   */
  readonly onText: (index: number, text: string) => void;
}

/**
 * Runs a prepared task. `signal` aborts it: with a {@link StopRequest} as its
 * reason when the requester stopped it (a generation then resolves with what
 * it made), with another reason when the sender went away or the worker stops.
 */
export type TaskRun = (signal: AbortSignal, options: TaskRunOptions) => Promise<TaskOutcome>;

/** What running one task produced: what the receipt signs. */
export interface TaskOutcome {
  readonly output: Uint8Array;
  /** SHA-256 of `output`, when the runner has it already (hashed off the main thread). Default: hashed here. */
  readonly outputHash?: Hash;
  /** Units of work, as the catalogue entry's price counts them. */
  readonly units: number;
  readonly backend: Backend;
  readonly runMs: number;
  /** Threads the inference ran with. */
  readonly threads: number;
}

export interface TaskAnswererInit {
  /** The relay's PeerId: tasks from it need no assignment. */
  readonly relay: PeerId;
  /** The network id (the relay's account) tasks and receipts name. */
  readonly network: AccountId;
  /**
   * The worker's own account: direct tasks (from peers other than the relay)
   * must carry an assignment naming it. Default none: tasks from the relay only.
   */
  readonly account?: AccountId;
  readonly signer: Signer;
  readonly verifier: Ed25519Verifier;
  readonly slots: Pick<TaskSlots, 'run'>;
  /**
   * The worker's own checks of a task that passed the common ones, before it
   * waits for a slot: throws a {@link TaskRefusedError} (for instance
   * `unknown-model`), or returns how to run the task once it has a slot.
   */
  readonly prepare: (task: CheckedTask) => TaskRun;
  /** Aborts every running task (the worker is stopping). */
  readonly signal: AbortSignal;
  readonly onEvent?: (event: TaskEvent) => void;
  /** Default `Date.now`. */
  readonly now?: () => number;
  /** How long the relay may take to send the request. Default 30 s. */
  readonly readTimeoutMs?: number;
  /** How long a directly connected requester may take to send the request (it sends it at once). Default 3 s. */
  readonly directReadTimeoutMs?: number;
}

/** A stream handler for `/acn/task/1.0.0`. */
export function createTaskAnswerer(init: TaskAnswererInit): (stream: Stream, connection: Connection) => Promise<void> {
  const now = init.now ?? Date.now;
  const readTimeoutMs = init.readTimeoutMs ?? 30_000;
  const directReadTimeoutMs = init.directReadTimeoutMs ?? 3_000;
  /** Direct tasks already taken, until their assignment expires: each assignment buys one run. */
  const taken = new Map<TaskId, number>();

  /** Throws unless `request` carries a valid, unused assignment of task `id` to this worker. */
  function admitDirect(request: unknown, id: TaskId): void {
    const account = init.account;
    if (account === undefined) {
      throw new TaskRefusedError('unauthorized', 'this worker takes tasks from its relay only');
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
    if (!checked.ok) throw new TaskRefusedError('unauthorized', checked.error.message);
    if (taken.has(id)) throw new TaskRefusedError('unauthorized', 'this assignment was used already');
    taken.set(id, checked.value.expires);
  }

  /**
   * Reads what the sender writes while its task runs, and aborts `stop` with
   * a {@link StopRequest} on the first valid stop: signed by the task's
   * requester, for this task on this network. Anything else is ignored, up to
   * a few messages (then the sender is not listened to any more). Ends when
   * the stream's reading side ends or `signal` aborts.
   */
  async function listenForStop(
    channel: MessageChannel,
    task: { readonly id: TaskId; readonly requester: AccountId },
    stop: AbortController,
    signal: AbortSignal,
  ): Promise<void> {
    for (let ignored = 0; ignored < MAX_IGNORED_MESSAGES; ignored++) {
      let value: unknown;
      try {
        value = await channel.read({ signal });
      } catch {
        return; // the sender closed its side, or the answer went out
      }
      const bytes = parseStopMessage(value);
      if (bytes === undefined) continue;
      const read = readMessage(bytes, 'task/stop', decodeStopPayload, init.verifier);
      if (!read.ok) continue;
      const p = read.value.payload;
      if (p.task !== task.id || p.net !== init.network || read.value.signer !== task.requester) continue;
      stop.abort(new StopRequest(bytes));
      return;
    }
  }

  /** `seen.task` is set as soon as the task's id is known, for the events of a task that fails later. */
  async function answer(
    request: unknown,
    channel: MessageChannel,
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
    const run = init.prepare({ id, model: p.model, input: parsed.input });
    // The requester's stop aborts the run (a generation then ends with what it made); the stream's end aborts all.
    const stop = new AbortController();
    const listening = new AbortController();
    void listenForStop(
      channel,
      { id, requester: read.value.signer },
      stop,
      AbortSignal.any([signal, listening.signal]),
    );
    const runSignal = AbortSignal.any([signal, stop.signal]);
    // Text frames go out in order, each as soon as its piece is made; the answer waits for the last of them.
    let sent: Promise<void> = Promise.resolve();
    const onText = (index: number, text: string): void => {
      sent = sent.then(() => channel.write({ text: { index, text } }, { signal }));
    };
    let result: TaskOutcome;
    try {
      result = await init.slots.run(
        () => {
          init.onEvent?.({ phase: 'started', task: id, model: p.model });
          return run(runSignal, { onText });
        },
        { signal: runSignal },
      );
      await sent;
    } catch (error) {
      if (!signal.aborted && stop.signal.aborted && error === stop.signal.reason) {
        throw new TaskRefusedError('stopped', 'the requester stopped the task before it made anything');
      }
      throw error;
    } finally {
      listening.abort();
      // A text frame that failed to go out fails the answer too; nothing is left waiting on it.
      void sent.catch(() => undefined);
    }
    const receipt: ReceiptPayload = {
      v: 1,
      net: init.network,
      task: id,
      model: p.model,
      output: result.outputHash ?? (sha256Hex(result.output) as Hash),
      outputBytes: result.output.length,
      units: result.units,
      backend: result.backend,
      runMs: Math.round(result.runMs),
      ts: now(),
    };
    const signed = encodeEnvelope(await signEnvelope(init.signer, 'receipt', receipt));
    return {
      reply: { receipt: signed, output: result.output },
      event: {
        phase: 'done',
        task: id,
        model: p.model,
        runMs: result.runMs,
        units: result.units,
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
      const wait = direct ? directReadTimeoutMs : readTimeoutMs;
      const request = await channel.read({ signal: AbortSignal.any([signal, AbortSignal.timeout(wait)]) });
      let reply: TaskAnswer;
      let event: TaskEvent;
      try {
        ({ reply, event } = await answer(request, channel, signal, seen, direct));
      } catch (error) {
        if (signal.aborted) throw error;
        const wire = toWire(error);
        event = { phase: 'failed', task: seen.task, error: wire };
        reply = { error: wire };
      }
      await channel.write(reply, { signal });
      // Done only once the sender has the answer: a result lost on the way earns nothing.
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

/** Messages other than a valid stop that a sender may write while its task runs, before it is no longer read. */
const MAX_IGNORED_MESSAGES = 8;

/** Any error with a string `code` keeps it on the wire (the pool's, the slots'); others are `internal`. */
function toWire(error: unknown): WireError {
  const code = (error as { code?: unknown } | undefined)?.code;
  return {
    code: typeof code === 'string' ? code : 'internal',
    message: error instanceof Error ? error.message : 'the task failed',
  };
}
