/**
 * The byte-level tokenizer and the `plain` chat template of the shipped
 * model: piece ids 0 to 255 are the bytes of the UTF-8 text, ids above are
 * special (beginning and end of text). The template starts with the
 * beginning-of-text piece, then gives every message's text followed by one
 * space, so the model continues from there.
 */
import type { TextGenerationSpec } from '#core/models/catalogue.ts';
import type { TextGenerationInput } from './prompt.ts';

const utf8 = new TextEncoder();
const NO_BYTES = new Uint8Array(0);
const BYTES = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));

/** The text the template makes of an input, before the beginning-of-text piece. */
export function templateText(input: Pick<TextGenerationInput, 'prompt' | 'messages'>): string {
  if (input.prompt !== undefined) return input.prompt;
  return (input.messages ?? []).map((m) => `${m.content.trim()} `).join('');
}

/** The prompt's pieces: the beginning-of-text piece, then the template's text as bytes. */
export function promptPieces(spec: Pick<TextGenerationSpec, 'bos'>, input: TextGenerationInput): number[] {
  return [spec.bos, ...utf8.encode(templateText(input))];
}

/** How many pieces the prompt is, without building them. */
export function promptLength(input: TextGenerationInput): number {
  return 1 + utf8.encode(templateText(input)).length;
}

/** The bytes a piece stands for: itself below 256, nothing for a special piece. */
export function pieceBytes(piece: number): Uint8Array {
  return BYTES[piece] ?? NO_BYTES;
}
