/**
 * The requester's half of the interactive path on libp2p: dial the worker
 * the relay chose at its WebRTC addresses, insist the connection is direct
 * (not the relay's limited circuit), send the task with the relay's
 * assignment on {@link TASK_PROTOCOL}, and read back the receipt and output,
 * checked before anyone relies on them. A text generation's text frames come
 * first, as the worker makes them; the requester's Stop goes to the worker on
 * the same stream.
 *
 * It takes any libp2p node that can dial WebRTC (the app's browser node, or
 * a Node peer with @libp2p/webrtc); it never listens.
 */
import type { AbortOptions, Connection, Libp2p } from '@libp2p/interface';
import { CODE_P2P, CODE_WEBRTC, multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { readMessage } from '#core/envelope/envelope.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import {
  MAX_TASK_MESSAGE_BYTES,
  MalformedTaskAnswerError,
  TASK_PROTOCOL,
  messageChannel,
  readTaskAnswer,
  type TaskAnswer,
} from '../p2p/task-protocol.ts';

/** What the direct path needs of a libp2p node. */
export type DirectNode = Pick<Libp2p, 'dial'>;

/** Why the direct exchange failed (the task then goes the brokered way). */
/** `stopped`: the requester stopped the task before the worker had it (the relay is to be told instead). */
export type DirectFailureReason =
  'no-address' | 'dial' | 'relayed' | 'stream' | 'worker-error' | 'bad-answer' | 'stopped';

export class DirectDialError extends Error {
  override readonly name = 'DirectDialError';
  readonly code = 'direct-failed';
  readonly reason: DirectFailureReason;
  constructor(reason: DirectFailureReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

export interface DirectExchange {
  readonly worker: AccountId;
  readonly addrs: readonly string[];
  /** The encoded signed task. */
  readonly task: Uint8Array;
  readonly taskId: TaskId;
  readonly input: Uint8Array;
  /** The relay's signed assignment. */
  readonly assignment: Uint8Array;
  readonly network: AccountId;
}

export interface DirectAnswer {
  readonly receipt: Uint8Array;
  readonly output: Uint8Array;
  /** The worker's address as the connection saw it (`…/webrtc/…`). */
  readonly remoteAddr: string;
}

export interface DirectExchangeOptions extends AbortOptions {
  /** Longest wait for the connection and stream. */
  readonly dialTimeoutMs: number;
  /** Longest wait for the worker's answer once the task is sent. */
  readonly answerTimeoutMs: number;
  readonly verifier: Ed25519Verifier;
  /** Called with each text frame (a generated piece's index and text) before the answer. */
  readonly onText?: ((index: number, text: string) => void) | undefined;
  /** The requester's Stop: aborting `signal` sends `sign()`'s task/stop to the worker. */
  readonly stop?: DirectStop | undefined;
}

export interface DirectStop {
  readonly signal: AbortSignal;
  /** The encoded, signed task/stop envelope (signed only when the stop comes). */
  readonly sign: () => Promise<Uint8Array>;
}

/** True for a WebRTC address that is not a plain circuit (the relay's limited hop). */
function isWebrtc(address: Multiaddr): boolean {
  return address.getComponents().some((component) => component.code === CODE_WEBRTC);
}

/**
 * Whether `connection` is a direct WebRTC connection: its last transport
 * (before `/p2p/<id>`) is `/webrtc`, and libp2p put none of a relayed
 * connection's limits on it.
 */
export function isDirectWebrtc(connection: Pick<Connection, 'remoteAddr' | 'limits'>): boolean {
  const codes = connection.remoteAddr.getComponents().map((component) => component.code);
  while (codes.at(-1) === CODE_P2P) codes.pop();
  return connection.limits === undefined && codes.at(-1) === CODE_WEBRTC;
}

/**
 * Runs the task on the worker over a direct connection; throws
 * {@link DirectDialError} when it cannot (reason `stopped` when the stop came
 * before the worker had the task). A stop that comes later is written on the
 * stream, and the worker's answer is then the shorter, stopped result.
 */
export async function exchangeDirect(
  node: DirectNode,
  job: DirectExchange,
  options: DirectExchangeOptions,
): Promise<DirectAnswer> {
  const addrs = job.addrs.flatMap((text) => {
    try {
      const address = multiaddr(text);
      return isWebrtc(address) ? [address] : [];
    } catch {
      return [];
    }
  });
  if (addrs.length === 0) throw new DirectDialError('no-address', 'the worker has no WebRTC address');
  const { stop } = options;
  const stoppedEarly = () =>
    new DirectDialError('stopped', 'the generation was stopped before the worker had the task');
  // A function, not a test in place: the signal may be aborted at any await.
  const stopped = () => stop?.signal.aborted === true && options.signal?.aborted !== true;
  if (stopped()) throw stoppedEarly();
  // A stop while dialling ends the dial: the relay, not the worker, is then told.
  const dialSignal = AbortSignal.any([
    AbortSignal.timeout(options.dialTimeoutMs),
    ...(options.signal ? [options.signal] : []),
    ...(stop ? [stop.signal] : []),
  ]);
  let connection: Connection;
  try {
    connection = await node.dial(addrs, { signal: dialSignal });
  } catch (error) {
    if (stopped()) throw stoppedEarly();
    throw new DirectDialError('dial', `cannot reach the worker over WebRTC: ${message(error)}`, { cause: error });
  }
  if (!isDirectWebrtc(connection)) {
    // The relay's circuit is limited (time and bytes): application traffic does not belong on it.
    throw new DirectDialError(
      'relayed',
      `the connection to the worker is relayed (${connection.remoteAddr.toString()})`,
    );
  }
  const remoteAddr = connection.remoteAddr.toString();
  let stream;
  try {
    stream = await connection.newStream(TASK_PROTOCOL, { signal: dialSignal });
  } catch (error) {
    if (stopped()) throw stoppedEarly();
    throw new DirectDialError('stream', `cannot open a task stream: ${message(error)}`, { cause: error });
  }
  if (stopped()) {
    stream.abort(new Error('stopped'));
    throw stoppedEarly();
  }
  const answerSignal = AbortSignal.any([
    AbortSignal.timeout(options.answerTimeoutMs),
    ...(options.signal ? [options.signal] : []),
  ]);
  const channel = messageChannel(stream, MAX_TASK_MESSAGE_BYTES);
  // The stop is written at most once, beside the reads; the answer is read to the end either way.
  let stopWritten: Promise<void> | undefined;
  const sendStop = () => {
    stopWritten ??= stop
      ?.sign()
      .then((bytes) => channel.write({ stop: bytes }, { signal: answerSignal }))
      .catch(() => undefined);
  };
  let answer: TaskAnswer;
  try {
    await channel.write({ task: job.task, input: job.input, assignment: job.assignment }, { signal: answerSignal });
    stop?.signal.addEventListener('abort', sendStop, { once: true });
    if (stop?.signal.aborted) sendStop();
    answer = await readTaskAnswer(channel, {
      signal: answerSignal,
      onText: (index, text) => {
        try {
          options.onText?.(index, text);
        } catch (error) {
          throw new ListenerError(error);
        }
      },
    });
    await stopWritten;
    await stream.close({ signal: answerSignal }).catch(() => undefined);
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    if (error instanceof ListenerError) throw error.error;
    if (error instanceof MalformedTaskAnswerError) {
      throw new DirectDialError('bad-answer', `the worker’s answer is malformed: ${error.message}`);
    }
    throw new DirectDialError('stream', `no answer from the worker: ${message(error)}`, { cause: error });
  } finally {
    stop?.signal.removeEventListener('abort', sendStop);
  }
  if ('error' in answer) {
    // The worker had the task but had not started it when the stop came: the relay is to be told instead.
    if (answer.error.code === 'stopped' && stopped()) throw stoppedEarly();
    throw new DirectDialError(
      'worker-error',
      `the worker refused or failed: ${answer.error.code}: ${answer.error.message}`,
    );
  }
  checkAnswer(job, answer, options.verifier);
  return { receipt: answer.receipt, output: answer.output, remoteAddr };
}

/** The receipt is the chosen worker's, for this task, over this output; else the answer is worth nothing. */
function checkAnswer(
  job: DirectExchange,
  answer: { readonly receipt: Uint8Array; readonly output: Uint8Array },
  verifier: Ed25519Verifier,
): void {
  const read = readMessage(answer.receipt, 'receipt', decodeReceiptPayload, verifier);
  if (!read.ok) throw new DirectDialError('bad-answer', `the receipt does not verify: ${read.error.message}`);
  const p = read.value.payload;
  if (read.value.signer !== job.worker) throw new DirectDialError('bad-answer', 'the receipt is another account’s');
  if (p.task !== job.taskId || p.net !== job.network) {
    throw new DirectDialError('bad-answer', 'the receipt names another task or network');
  }
  if (p.outputBytes !== answer.output.length || sha256Hex(answer.output) !== p.output) {
    throw new DirectDialError('bad-answer', 'the output does not match the receipt');
  }
}

/** An error thrown by the caller's `onText`, carried past the stream's own error handling. */
class ListenerError extends Error {
  override readonly name = 'ListenerError';
  readonly error: unknown;
  constructor(error: unknown) {
    super('the onText listener threw');
    this.error = error;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
