/**
 * Reading request bodies: valibot schemas for the JSON the API takes, with
 * bytes as base64url strings. Every failure is a typed error (400).
 */
import * as v from 'valibot';
import { fromBase64Url, toBase64Url } from '#core/encoding/bytes.ts';
import { MalformedEncodingError } from '#core/encoding/errors.ts';
import { InvalidMessageError } from '#core/messages/errors.ts';

/** base64url text decoding to at most `maxBytes` bytes. */
export function base64Bytes(maxBytes: number) {
  return v.pipe(
    v.string(),
    v.maxLength(Math.ceil((maxBytes * 4) / 3) + 4),
    v.regex(/^[A-Za-z0-9_-]*$/, 'must be base64url'),
    v.transform((text) => fromBase64Url(text)),
    v.check((bytes) => bytes.length <= maxBytes, `must be at most ${maxBytes} bytes`),
  );
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
