/**
 * Reading request bodies: valibot schemas for the JSON the API takes, with
 * bytes as base64url strings. Every failure is a typed error (400).
 */
import * as v from 'valibot';
import { fromBase64Url, toBase64Url } from '#core/encoding/bytes.ts';
import { MalformedEncodingError } from '#core/encoding/errors.ts';
import { MAX_ENVELOPE_BYTES } from '#core/envelope/envelope.ts';
import { InvalidMessageError } from '#core/messages/errors.ts';
import { MAX_OUTPUT_BYTES } from '#core/messages/receipt.ts';
import { MAX_TASK_INPUT_BYTES } from '#core/messages/task.ts';

/** Characters of unpadded base64url for `bytes` bytes. */
export function base64UrlLength(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

/**
 * The largest body the API takes: a task of the documented maximum input (or
 * a receipt with the largest output) as base64url, which is a third larger
 * than the bytes, with its signed envelope and room for the JSON around them.
 * About 21.4 MiB; the default of `--max-body`.
 */
export const MAX_API_BODY_BYTES =
  base64UrlLength(Math.max(MAX_TASK_INPUT_BYTES, MAX_OUTPUT_BYTES)) + base64UrlLength(MAX_ENVELOPE_BYTES) + 4096;

/**
 * base64url text decoding to at most `maxBytes` bytes. Text that passes the
 * alphabet check can still fail to decode (one character, or a last
 * character whose spare bits are not zero, e.g. "A" or "AB"): the codec throws
 * a plain SyntaxError then, which would reach the error handler as a 500, so
 * the decoding step turns it into an issue like any other bad field.
 */
export function base64Bytes(maxBytes: number) {
  return v.pipe(
    v.string(),
    v.maxLength(base64UrlLength(maxBytes) + 4),
    v.regex(/^[A-Za-z0-9_-]*$/, 'must be base64url'),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const bytes = decodeBase64Url(dataset.value);
      if (bytes !== undefined) return bytes;
      addIssue({ message: 'must be base64url (unpadded, with its last character complete)' });
      return NEVER;
    }),
    v.check((bytes) => bytes.length <= maxBytes, `must be at most ${maxBytes} bytes`),
  );
}

/** The bytes of base64url `text`, or undefined where it does not decode. */
export function decodeBase64Url(text: string): Uint8Array | undefined {
  try {
    return fromBase64Url(text);
  } catch {
    return undefined;
  }
}

/** Parses `body` with `schema`, or throws a typed 400 error naming the first bad field. */
export function readBody<S extends v.GenericSchema>(family: string, schema: S, body: unknown): v.InferOutput<S> {
  if (body === undefined || body === null || typeof body !== 'object') {
    throw new MalformedEncodingError('the request body must be a JSON object (Content-Type: application/json)');
  }
  const parsed = v.safeParse(schema, body, { abortEarly: true });
  if (parsed.success) return parsed.output;
  throw new InvalidMessageError(
    family,
    parsed.issues.map((issue) => ({ path: v.getDotPath(issue) ?? '', message: issue.message })),
  );
}

export const b64 = toBase64Url;
