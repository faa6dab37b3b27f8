/**
 * A text-generation task's result, canonically encoded (its SHA-256 is what
 * the receipt signs): the text, the generated pieces it came from (an
 * end-of-text piece included), how many pieces the prompt was, why it ended
 * and, when the requester stopped it, the requester's signed stop.
 */
import * as v from 'valibot';
import { decodeCanonical, encodeCanonical } from '#core/encoding/canonical.ts';
import { MAX_ENVELOPE_BYTES } from '#core/envelope/envelope.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';
import { err, ok, type Result } from '#core/result.ts';
import { TEXT_MAX_PIECES } from './prompt.ts';

/** The largest encoded result: the pieces, the text (at most 4 bytes per piece) and a stop message. */
export const TEXT_OUTPUT_MAX_BYTES = 64 * 1024 + MAX_ENVELOPE_BYTES;

/**
 * - `stop`: an end-of-text piece or a stop string;
 * - `length`: `maxPieces`, or the model's context, ran out;
 * - `stopped`: the requester stopped it.
 */
export const FINISH_REASONS = ['stop', 'length', 'stopped'] as const;
export type TextFinish = (typeof FINISH_REASONS)[number];

const piece = v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(1 << 24));

const resultSchema = v.pipe(
  v.strictObject({
    text: v.pipe(v.string(), v.maxLength(4 * TEXT_MAX_PIECES)),
    pieces: v.pipe(v.array(piece), v.maxLength(TEXT_MAX_PIECES)),
    promptPieces: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
    finish: v.picklist(FINISH_REASONS),
    stopProof: v.optional(
      v.pipe(
        v.custom<Uint8Array>((x) => x instanceof Uint8Array, 'must be bytes'),
        v.check((b) => b.length <= MAX_ENVELOPE_BYTES, `must be at most ${MAX_ENVELOPE_BYTES} bytes`),
      ),
    ),
  }),
  v.check((r) => (r.finish === 'stopped') === (r.stopProof !== undefined), 'only a stopped result has a stop proof'),
);

export type TextGenerationResult = v.InferOutput<typeof resultSchema>;

export function encodeTextResult(result: TextGenerationResult): Uint8Array {
  const { stopProof, ...rest } = result;
  return encodeCanonical(stopProof === undefined ? rest : { ...rest, stopProof });
}

export function decodeTextResult(bytes: Uint8Array): Result<TextGenerationResult, InvalidModelInputError> {
  const decoded = decodeCanonical(bytes, { maxBytes: TEXT_OUTPUT_MAX_BYTES });
  if (!decoded.ok)
    return err(new InvalidModelInputError(`the result is not canonical DAG-CBOR: ${decoded.error.message}`));
  const parsed = v.safeParse(resultSchema, decoded.value, { abortEarly: true });
  if (!parsed.success) {
    return err(new InvalidModelInputError(`text-generation result: ${parsed.issues[0].message}`));
  }
  return ok(parsed.output);
}
