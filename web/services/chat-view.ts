/**
 * What the Chat screen says, decided in plain functions (so it is tested
 * without rendering): the cost estimate before sending, the state of the
 * answer being made, and each answer's line of facts (where it ran, how
 * fast, what it cost, whether its receipt was verified).
 *
 * Words: a piece is part of a word (what the model reads and writes); tokens
 * are the currency. Never the other way round.
 */
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { StoredChatMessage } from '#browser-storage/conversations.ts';
import type { ChatRequest } from './chat-prompt.ts';
import type { ChatWhere, LiveAnswer } from './chat-session.ts';
import { megabytes, tokens } from './format-amount.ts';
import { formatCount } from './format-count.ts';

/** The estimate under the message box. */
export interface Estimate {
  /** The main line: "At most 4 tokens" or "Free on this phone". */
  readonly headline: string;
  /** What it counts. */
  readonly detail: string;
  /** The most it may cost on the network; undefined on the phone. */
  readonly maxPrice: number | undefined;
  /** The balance does not cover it. */
  readonly tooPoor: boolean;
}

/** The estimate for sending `request` to `where` with `balance` tokens (undefined: not read yet). */
export function estimateOf(
  entry: ModelEntry,
  request: ChatRequest,
  where: ChatWhere,
  balance: number | undefined,
): Estimate {
  const answer = `an answer of up to ${formatCount(request.maxPieces)} pieces`;
  const read = `your message${request.leftOut === 0 ? ' and the conversation' : ''} (${formatCount(request.promptPieces)} pieces)`;
  if (where === 'phone') {
    const size = entry.bytes + entry.assets.reduce((sum, a) => sum + a.bytes, 0);
    return {
      headline: 'Free on this phone',
      detail: `It runs here, offline too once the model (${megabytes(size)}) is on this phone. On the network it would cost at most ${tokens(request.maxPrice)}.`,
      maxPrice: undefined,
      tooPoor: false,
    };
  }
  return {
    headline: `At most ${tokens(request.maxPrice)}`,
    detail: `For ${read} and ${answer}; you pay only for the pieces it writes.`,
    maxPrice: request.maxPrice,
    tooPoor: balance !== undefined && request.maxPrice > balance,
  };
}

/** The answer being made, in words. */
export function liveLabel(live: LiveAnswer, where: ChatWhere | undefined): string {
  if (live.stopping) return 'Stopping…';
  switch (live.phase) {
    case 'loading': {
      const d = live.download;
      if (d && d.total > 0 && d.loaded < d.total) {
        return `Downloading the model to this phone: ${Math.floor((100 * d.loaded) / d.total)}%`;
      }
      return 'Starting the model on this phone…';
    }
    case 'sending':
      return 'Signing and sending…';
    case 'waiting':
      return where === 'network' ? 'Waiting for the network’s answer…' : 'Thinking…';
    case 'streaming':
      return 'Writing…';
  }
}

/** Pieces per second for people: "85 pieces/s". */
export function rateText(piecesPerSecond: number | undefined): string {
  if (piecesPerSecond === undefined) return '';
  return `${formatCount(Math.round(piecesPerSecond))} pieces/s`;
}

/** Whether an answer's receipt is verified: checked and good, checked and bad, being checked, or not checked. */
export type VerificationView = 'verified' | 'failed' | 'verifying' | 'unverified';

/** The facts under an answer. */
export interface AnswerFacts {
  /** "On this phone · WASM", "On the network · via relay". */
  readonly where: string;
  /** "85 pieces/s"; '' when unknown. */
  readonly rate: string;
  /** Why it ended, when it was not the model's own end: "Stopped", "Reached its length limit". */
  readonly ending: string;
  /** What it cost: "Cost: 3 tokens (at most 4)"; '' on the phone and until settled. */
  readonly cost: string;
  /** On the network, once done; undefined elsewhere. */
  readonly verification: VerificationView | undefined;
}

export function answerFacts(message: StoredChatMessage, verifying: boolean): AnswerFacts {
  const network = message.where === 'network';
  const where = network
    ? `On the network${message.via === 'webrtc' ? ' · via WebRTC' : message.via === 'relay' ? ' · via relay' : ''}`
    : `On this phone${message.backend ? ` · ${message.backend}` : ''}`;
  const ending =
    message.finish === 'stopped' ? 'Stopped' : message.finish === 'length' ? 'Reached its length limit' : '';
  const cost =
    network && message.state === 'done' && message.price !== undefined
      ? `Cost: ${tokens(message.price)}${message.maxPrice !== undefined && message.maxPrice !== message.price ? ` (at most ${formatCount(message.maxPrice)})` : ''}`
      : '';
  const verification: VerificationView | undefined =
    !network || message.state !== 'done'
      ? undefined
      : verifying
        ? 'verifying'
        : message.verified === true
          ? 'verified'
          : message.verified === false
            ? 'failed'
            : 'unverified';
  return { where, rate: rateText(message.piecesPerSecond), ending, cost, verification };
}

/** A short date for the conversation list: the time today, else the day. */
export function whenText(at: number, today: number = Date.now()): string {
  const date = new Date(at);
  const sameDay = new Date(today).toDateString() === date.toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString([], { day: 'numeric', month: 'short' });
}
