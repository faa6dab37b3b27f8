/**
 * Field schemas shared by every message family, each with its cap, and the
 * helper that turns a valibot schema into a never-throwing decoder.
 */
import * as v from 'valibot';
import { parseAccountId, parseHash, type AccountId, type Hash, type ModelId, type TaskId } from '../identity/ids.ts';
import { err, ok, type Result } from '../result.ts';
import { InvalidMessageError } from './errors.ts';

/** Protocol version carried by every payload. */
export const PROTOCOL_VERSION = 1;

/** Token amounts are whole base units, at most 2^53 - 1. */
export const amount = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
export const positiveAmount = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
/** Milliseconds since the Unix epoch. */
export const timestamp = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
/** A per-account sequence number; the first transaction of an account has seq 1. */
export const sequence = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
export const version = v.literal(PROTOCOL_VERSION);

export const accountId = v.custom<AccountId>((x) => parseAccountId(x).ok, 'must be an Ed25519 PeerId');
export const hash = v.custom<Hash>((x) => parseHash(x).ok, 'must be 64 lower-case hex characters');
export const taskId = hash as unknown as v.CustomSchema<TaskId, undefined>;
export const modelId = hash as unknown as v.CustomSchema<ModelId, undefined>;

/** Raw bytes of at most `max` bytes (at least `min`). */
export function bytes(max: number, min = 0) {
  return v.pipe(
    v.instance(Uint8Array),
    v.check((b) => b.length >= min && b.length <= max, `must be ${min} to ${max} bytes`),
  );
}

/**
 * Short human text: at most `max` UTF-16 units, no control characters, and no
 * lone surrogates (the encoder would turn one into U+FFFD, so the signed text
 * and the text read back would differ).
 */
export function text(max: number) {
  return v.pipe(
    v.string(),
    v.maxLength(max),
    // eslint-disable-next-line no-control-regex
    v.regex(/^[^\u0000-\u001f\u007f\p{Cs}]*$/u, 'must be well-formed text without control characters'),
  );
}

/** Makes a never-throwing decoder from a schema: `unknown` in, typed value or {@link InvalidMessageError} out. */
export function decoderFor<S extends v.GenericSchema>(
  family: string,
  schema: S,
): (value: unknown) => Result<v.InferOutput<S>, InvalidMessageError> {
  return (value) => {
    try {
      const parsed = v.safeParse(schema, value, { abortEarly: true });
      if (parsed.success) return ok(parsed.output);
      return err(
        new InvalidMessageError(
          family,
          parsed.issues.map((issue) => ({ path: v.getDotPath(issue) ?? '', message: issue.message })),
        ),
      );
    } catch (cause) {
      return err(
        new InvalidMessageError(family, [{ path: '', message: cause instanceof Error ? cause.message : 'unreadable' }]),
      );
    }
  };
}
