/**
 * The Chat screen's rules, in pure code: which catalogue models can chat, the
 * one-line hint and the example prompts a model's description gives, and
 * turning a conversation and the next message into a text-generation task's
 * input, with the most it may cost.
 *
 * A language model reads a conversation within its context: the prompt (the
 * messages so far, through the model's template) plus the answer may not be
 * longer than `contextLength` pieces. The oldest messages are left out of the
 * prompt until the new message and room for an answer fit.
 *
 * Words: a *piece* is what a language model reads and writes (part of a word:
 * one byte for the shipped model); *tokens* are the network's currency. The
 * UI never calls pieces tokens.
 */
import type { ModelEntry } from '#core/models/catalogue.ts';
import { quoteTask } from '#core/models/pricing.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import {
  TEXT_MAX_MESSAGES,
  textGenerationInput,
  type TextGenerationInput,
} from '#core/pipelines/text-generation/prompt.ts';
import { formatCount } from './format-count.ts';

/** The most pieces one answer may have (the model's context may leave less room). */
export const ANSWER_PIECES = 160;
/** The least room for an answer worth asking for: older messages are left out to keep it. */
export const MIN_ANSWER_PIECES = 32;

/** A message of the conversation as the model reads it. */
export interface ChatTurn {
  readonly role: 'user' | 'assistant';
  readonly text: string;
}

/** A message ready to send: the task's input, its bytes and what it may cost. */
export interface ChatRequest {
  readonly input: TextGenerationInput;
  /** The task's input bytes (hashed, signed and sent, or run on the phone). */
  readonly bytes: Uint8Array;
  /** The most the answer may cost on the network: the prompt and the longest answer at the model's prices. */
  readonly maxPrice: number;
  readonly promptPieces: number;
  /** The longest answer, in pieces. */
  readonly maxPieces: number;
  /** Earlier messages left out of the prompt to fit the model's context. */
  readonly leftOut: number;
}

/** Whether `entry` is a language model this app can chat with. */
export function isChatModel(entry: ModelEntry): boolean {
  return entry.kind === 'text-generation' && entry.textGeneration !== undefined && pipelineFor(entry.pre) !== undefined;
}

/** The catalogue's language models, in catalogue order. */
export function chatModels(models: readonly ModelEntry[]): ModelEntry[] {
  return models.filter(isChatModel);
}

/** The first sentence of a model's description: what it does, in one line. */
export function modelHint(entry: ModelEntry): string {
  const description = entry.description.trim();
  // A sentence ends at a full stop followed by a space (not inside "e.g." or a number), or at the end.
  const end = /[.!?](\s|$)/.exec(description);
  const first = end ? description.slice(0, end.index + 1) : description;
  // What follows a colon is detail ("…verses: give it a reference such as…").
  const colon = first.search(/:\s/);
  return (colon === -1 ? first : `${first.slice(0, colon)}.`).trim();
}

/** The example prompts a description quotes ("give it a reference such as "John 3:16""), at most three. */
export function examplePrompts(entry: ModelEntry): string[] {
  const found = [...entry.description.matchAll(/["“]([^"”]{1,60})["”]/g)].map((m) => (m[1] ?? '').trim());
  return [...new Set(found.filter((s) => s !== ''))].slice(0, 3);
}

/** The model's prices in words: "5 tokens per 1,000 pieces read, 20 per 1,000 written". */
export function priceText(entry: ModelEntry): string {
  const price = entry.textGeneration?.price;
  if (!price) return '';
  return `${formatCount(price.perThousandPrompt)} tokens per 1,000 pieces read, ${formatCount(price.perThousandGenerated)} per 1,000 written`;
}

/**
 * The task for `draft` after `history` (finished messages, oldest first), or
 * what to fix. Leaves out the oldest messages until the prompt leaves room
 * for an answer of at least {@link MIN_ANSWER_PIECES} (or a quarter of a small
 * context).
 */
export function chatRequest(entry: ModelEntry, history: readonly ChatTurn[], draft: string): ChatRequest | string {
  const spec = entry.textGeneration;
  const pipeline = pipelineFor(entry.pre);
  if (!spec || !pipeline || !isChatModel(entry)) return `${entry.name} is not a language model.`;
  const text = draft.trim();
  if (text === '') return 'Type a message.';
  const minAnswer = Math.min(MIN_ANSWER_PIECES, Math.max(1, Math.floor(spec.contextLength / 4)));
  const room = spec.contextLength - minAnswer;
  const turns = [...history.filter((t) => t.text.trim() !== ''), { role: 'user' as const, text }];
  const messagesFrom = (from: number) => turns.slice(from).map((t) => ({ role: t.role, content: t.text }));
  // The model's own count of the prompt's pieces (template and tokenizer included); too long for it: infinite.
  const piecesOf = (messages: TextGenerationInput['messages']): number => {
    const usage = pipeline.usage?.(entry, textGenerationInput({ messages, maxPieces: 1 }));
    return usage?.ok === true ? usage.value.promptPieces : Number.POSITIVE_INFINITY;
  };
  let start = Math.max(0, turns.length - TEXT_MAX_MESSAGES);
  while (start < turns.length - 1 && piecesOf(messagesFrom(start)) > room) start++;
  const messages = messagesFrom(start);
  const promptPieces = piecesOf(messages);
  if (promptPieces > room) {
    return `Your message is too long for ${entry.name}, which reads at most ${formatCount(room)} pieces before answering (a piece is part of a word). Shorten it.`;
  }
  const maxPieces = Math.min(ANSWER_PIECES, spec.contextLength - promptPieces);
  const input = textGenerationInput({ messages, maxPieces });
  const bytes = pipeline.encodeInput(input);
  // The same checks the relay makes: the bytes decode to this input, and the model prices it.
  const decoded = pipeline.decodeInput(bytes);
  if (!decoded.ok) return decoded.error.message;
  const quote = quoteTask(entry, pipeline, decoded.value);
  if (!quote.ok) return quote.error.message;
  return { input, bytes, maxPrice: quote.value.price, promptPieces, maxPieces, leftOut: start };
}

/** Pieces per second over `ms` milliseconds; undefined when too short to tell. */
export function piecesPerSecond(pieces: number, ms: number): number | undefined {
  if (pieces <= 0 || !(ms > 0)) return undefined;
  return (pieces * 1000) / ms;
}

/** A conversation's title from its first message: its first line, at most 48 characters. */
export function conversationTitle(text: string): string {
  const line = text.trim().split(/\r?\n/)[0]?.trim() ?? '';
  if (line === '') return 'New chat';
  return line.length > 48 ? `${line.slice(0, 47).trimEnd()}…` : line;
}
