/**
 * The two libp2p protocols between the relay and desktop workers (Node or browser).
 * Every message is one DAG-CBOR value, length-prefixed (unsigned varint), and
 * each stream carries one request and one answer.
 *
 * - {@link ADVERT_PROTOCOL}: a worker opens a stream to the relay and sends
 *   its encoded signed advert envelope (itself DAG-CBOR); the relay answers
 *   `{ ok: true }` or `{ ok: false, error: { code, message } }`.
 * - {@link TASK_PROTOCOL}: the relay opens a stream to a worker and sends
 *   `{ task: <encoded signed task envelope>, input: <bytes> }`; the worker
 *   answers `{ receipt: <encoded signed receipt envelope>, output: <bytes> }`
 *   or `{ error: { code, message } }`. Before that final answer, a text
 *   generation sends zero or more `{ text: { index, text } }` messages, one
 *   per piece as it is made; and the sender may send, at any time before the
 *   final answer, `{ stop: <encoded signed task/stop envelope> }`, which
 *   makes the worker end the generation where it is and answer with what it
 *   made (see {@link parseStopMessage}).
 */
import type { AbortOptions, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { decodeCanonical, encodeCanonical } from '#core/encoding/canonical.ts';
import { MAX_ENVELOPE_BYTES } from '#core/envelope/envelope.ts';
import { MAX_OUTPUT_BYTES } from '#core/messages/receipt.ts';
import { MAX_TASK_INPUT_BYTES } from '#core/messages/task.ts';
import { TEXT_MAX_PIECES } from '#core/pipelines/text-generation/prompt.ts';

export const ADVERT_PROTOCOL = '/acn/advert/1.0.0';
export const TASK_PROTOCOL = '/acn/task/1.0.0';

/** Room for the CBOR map around the envelope and the bytes. */
const FRAMING_BYTES = 1024;
/** The largest advert request or answer. */
export const MAX_ADVERT_MESSAGE_BYTES = MAX_ENVELOPE_BYTES + FRAMING_BYTES;
/** The largest task request or answer: 16 MiB of input or output, plus an envelope. */
export const MAX_TASK_MESSAGE_BYTES =
  Math.max(MAX_TASK_INPUT_BYTES, MAX_OUTPUT_BYTES) + MAX_ENVELOPE_BYTES + FRAMING_BYTES;

export interface WireError {
  readonly code: string;
  readonly message: string;
}

export type AdvertAnswer = { readonly ok: true } | { readonly ok: false; readonly error: WireError };

export interface TaskRequest {
  readonly task: Uint8Array;
  readonly input: Uint8Array;
}
export type TaskAnswer = { readonly receipt: Uint8Array; readonly output: Uint8Array } | { readonly error: WireError };

/** One generated piece's text, as the worker streams it before its answer. */
export interface TextFrame {
  /** The piece's place in the generation, from 0. */
  readonly index: number;
  /** The text this piece makes final ('' while a character or a possible stop string is held back). */
  readonly text: string;
}

/** What a worker sends on a task stream: text frames, then one final answer. */
export type WorkerMessage = { readonly text: TextFrame } | TaskAnswer;

/**
 * The most text one frame may carry. A piece's text is a character or a few,
 * but a piece that ends a held-back stop-string prefix releases it (at most
 * a stop string's 64 characters) and the last one flushes what is held.
 */
export const MAX_TEXT_FRAME_CHARS = 1024;
/** The most text frames before a final answer: one per piece a generation may make. */
export const MAX_TEXT_FRAMES = TEXT_MAX_PIECES;
/** The largest message a sender writes after its request (a stop): an envelope and its framing. */
export const MAX_STOP_MESSAGE_BYTES = MAX_ENVELOPE_BYTES + FRAMING_BYTES;

/** One length-prefixed DAG-CBOR message channel over a stream. */
export interface MessageChannel {
  /** Reads and decodes one message; throws on a closed stream, an oversized or a non-canonical message. */
  read(options?: AbortOptions): Promise<unknown>;
  /** Reads one message's raw bytes (for an envelope, decoded and checked by `readMessage`). */
  readBytes(options?: AbortOptions): Promise<Uint8Array>;
  /** Writes bytes that already are one encoded message. */
  writeBytes(bytes: Uint8Array, options?: AbortOptions): Promise<void>;
  write(value: unknown, options?: AbortOptions): Promise<void>;
}

export function messageChannel(stream: Stream, maxBytes: number): MessageChannel {
  const lp = lpStream(stream, { maxDataLength: maxBytes, maxBufferSize: maxBytes + 16 });
  return {
    async read(options) {
      const list = await lp.read(options);
      const decoded = decodeCanonical(list.subarray(), { maxBytes });
      if (!decoded.ok) throw decoded.error;
      return decoded.value;
    },
    async readBytes(options) {
      return (await lp.read(options)).subarray();
    },
    async write(value, options) {
      await lp.write(encodeCanonical(value), options);
    },
    async writeBytes(bytes, options) {
      await lp.write(bytes, options);
    },
  };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function wireError(value: unknown): WireError | undefined {
  if (!isMap(value)) return undefined;
  const { code, message } = value;
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  return { code: code.slice(0, 64), message: message.slice(0, 500) };
}

export function parseAdvertAnswer(value: unknown): AdvertAnswer | undefined {
  if (!isMap(value)) return undefined;
  if (value.ok === true) return { ok: true };
  const error = wireError(value.error);
  return value.ok === false && error !== undefined ? { ok: false, error } : undefined;
}

export function parseTaskRequest(value: unknown): TaskRequest | undefined {
  if (!isMap(value) || !(value.task instanceof Uint8Array) || !(value.input instanceof Uint8Array)) return undefined;
  return { task: value.task, input: value.input };
}

/** A `{ text: { index, text } }` message, or undefined for anything else (a final answer included). */
export function parseTextMessage(value: unknown): TextFrame | undefined {
  if (!isMap(value) || !isMap(value.text)) return undefined;
  const { index, text } = value.text;
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0 || index >= MAX_TEXT_FRAMES) {
    return undefined;
  }
  if (typeof text !== 'string' || text.length > MAX_TEXT_FRAME_CHARS) return undefined;
  return { index, text };
}

/**
 * A `{ stop: <bytes> }` message's bytes: the encoded signed task/stop
 * envelope, which the receiver still has to check (signature, signer, task
 * and network). Undefined for anything else.
 */
export function parseStopMessage(value: unknown): Uint8Array | undefined {
  if (!isMap(value) || !(value.stop instanceof Uint8Array)) return undefined;
  return value.stop.length <= MAX_ENVELOPE_BYTES ? value.stop : undefined;
}

/** A worker's message on a task stream: a text frame or its final answer; undefined when it is neither. */
export function parseWorkerMessage(value: unknown): WorkerMessage | undefined {
  if (isMap(value) && 'text' in value) {
    const text = parseTextMessage(value);
    return text === undefined ? undefined : { text };
  }
  return parseTaskAnswer(value);
}

/** A worker's answer on a task stream that sent more text frames than a generation can make, or something else. */
export class MalformedTaskAnswerError extends Error {
  override readonly name = 'MalformedTaskAnswerError';
  readonly code = 'malformed-answer';
}

/**
 * Reads a worker's messages until its final answer, handing each text frame
 * to `onText` on the way (the sender of the task, relay or requester, does
 * this after writing its request). Throws {@link MalformedTaskAnswerError}
 * for a message that is neither, or for more text frames than a generation
 * can make; and what the channel throws (a closed stream, the signal).
 */
export async function readTaskAnswer(
  channel: Pick<MessageChannel, 'read'>,
  options: AbortOptions & { readonly onText?: ((index: number, text: string) => void) | undefined } = {},
): Promise<TaskAnswer> {
  for (let frames = 0; ; frames++) {
    const message = parseWorkerMessage(await channel.read(options.signal ? { signal: options.signal } : {}));
    if (message === undefined) throw new MalformedTaskAnswerError('the worker sent something that is not an answer');
    if (!('text' in message)) return message;
    if (frames >= MAX_TEXT_FRAMES) {
      throw new MalformedTaskAnswerError(`the worker sent more than ${MAX_TEXT_FRAMES} text frames`);
    }
    options.onText?.(message.text.index, message.text.text);
  }
}

export function parseTaskAnswer(value: unknown): TaskAnswer | undefined {
  if (!isMap(value)) return undefined;
  if (value.receipt instanceof Uint8Array && value.output instanceof Uint8Array) {
    return { receipt: value.receipt, output: value.output };
  }
  const error = wireError(value.error);
  return error === undefined ? undefined : { error };
}
