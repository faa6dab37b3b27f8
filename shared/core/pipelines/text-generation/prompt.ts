/**
 * A text-generation task's input: a prompt (plain text to continue, or chat
 * messages put through the model's template), how much may be generated,
 * how to sample (./../../generation/sampler.ts) with which seed, and stop
 * strings. It travels canonically encoded (DAG-CBOR), so the task's input
 * hash commits to every one of these, and anyone can replay the answer.
 */
import * as v from 'valibot';
import { decodeCanonical, encodeCanonical } from '#core/encoding/canonical.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';
import { err, ok, type Result } from '#core/result.ts';
import type { SamplingParams } from '#core/generation/sampler.ts';
import { templateText } from './byte-tokenizer.ts';

/** The largest encoded input: 64 KiB, far more than any shipped model's context holds. */
export const TEXT_INPUT_MAX_BYTES = 64 * 1024;
/** At most this many messages in a conversation, and stop strings. */
export const TEXT_MAX_MESSAGES = 64;
export const TEXT_MAX_STOPS = 4;
/** The largest `maxPieces` a task may ask for (a model's context usually ends it sooner). */
export const TEXT_MAX_PIECES = 4096;

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

const message = v.strictObject({
  role: v.picklist(CHAT_ROLES),
  content: v.pipe(v.string(), v.maxLength(TEXT_INPUT_MAX_BYTES)),
});

const inputSchema = v.pipe(
  v.strictObject({
    /** Text for the model to continue (a completion), or… */
    prompt: v.optional(v.pipe(v.string(), v.maxLength(TEXT_INPUT_MAX_BYTES))),
    /** …a conversation, put through the model's chat template. */
    messages: v.optional(v.pipe(v.array(message), v.minLength(1), v.maxLength(TEXT_MAX_MESSAGES))),
    /** At most this many pieces are generated (an end-of-text piece counts). */
    maxPieces: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(TEXT_MAX_PIECES)),
    /** 0 is greedy. */
    temperature: v.pipe(v.number(), v.minValue(0), v.maxValue(2)),
    /** 0 keeps every candidate. */
    topK: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(1 << 20)),
    topP: v.pipe(v.number(), v.gtValue(0), v.maxValue(1)),
    /** Seeds the sampler: with the rest of the input it fixes the answer. */
    seed: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    /** Strings that end the generation where they appear (not part of the text). */
    stop: v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(64))), v.maxLength(TEXT_MAX_STOPS)),
  }),
  v.check(
    (input) => (input.prompt === undefined) !== (input.messages === undefined),
    'give either a prompt or messages, not both',
  ),
);

export type TextGenerationInput = v.InferOutput<typeof inputSchema>;

/** Sampling as the task asks it. */
export function samplingOf(input: TextGenerationInput): SamplingParams {
  return { temperature: input.temperature, topK: input.topK, topP: input.topP };
}

/** The defaults a client fills in: greedy, 128 pieces at most, seed 0, no stop strings. */
export function textGenerationInput(
  fields: Partial<TextGenerationInput> & ({ prompt: string } | { messages: TextGenerationInput['messages'] }),
): TextGenerationInput {
  const base = { maxPieces: 128, temperature: 0, topK: 0, topP: 1, seed: 0, stop: [] as string[] };
  return { ...base, ...fields };
}

export function encodeTextInput(input: TextGenerationInput): Uint8Array {
  const { prompt, messages, ...rest } = input;
  return encodeCanonical({ ...rest, ...(prompt === undefined ? { messages } : { prompt }) });
}

export function decodeTextInput(bytes: Uint8Array): Result<TextGenerationInput, InvalidModelInputError> {
  if (!(bytes instanceof Uint8Array)) return err(new InvalidModelInputError('a text-generation input must be bytes'));
  if (bytes.length > TEXT_INPUT_MAX_BYTES) {
    return err(new InvalidModelInputError(`the input is ${bytes.length} bytes; the cap is ${TEXT_INPUT_MAX_BYTES}`));
  }
  const decoded = decodeCanonical(bytes, { maxBytes: TEXT_INPUT_MAX_BYTES });
  if (!decoded.ok)
    return err(new InvalidModelInputError(`the input is not canonical DAG-CBOR: ${decoded.error.message}`));
  const parsed = v.safeParse(inputSchema, decoded.value, { abortEarly: true });
  if (!parsed.success) {
    const [issue] = parsed.issues;
    const path = v.getDotPath(issue);
    return err(new InvalidModelInputError(`text-generation input${path ? ` ${path}` : ''}: ${issue.message}`));
  }
  if (templateText(parsed.output).trim() === '') return err(new InvalidModelInputError('the prompt is empty'));
  return ok(parsed.output);
}
