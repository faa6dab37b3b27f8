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
 *   or `{ error: { code, message } }`.
 */
import type { AbortOptions, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { decodeCanonical, encodeCanonical } from '#core/encoding/canonical.ts';
import { MAX_ENVELOPE_BYTES } from '#core/envelope/envelope.ts';
import { MAX_OUTPUT_BYTES } from '#core/messages/receipt.ts';
import { MAX_TASK_INPUT_BYTES } from '#core/messages/task.ts';

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

export function parseTaskAnswer(value: unknown): TaskAnswer | undefined {
  if (!isMap(value)) return undefined;
  if (value.receipt instanceof Uint8Array && value.output instanceof Uint8Array) {
    return { receipt: value.receipt, output: value.output };
  }
  const error = wireError(value.error);
  return error === undefined ? undefined : { error };
}
