/**
 * A small Server-Sent Events reader over `fetch`'s body stream, so the SDK
 * can follow `GET /api/tasks/:id/stream` in browsers and in Node alike
 * (EventSource exists only in browsers, and cannot be given a signal).
 *
 * It parses as the HTML standard says ("Parsing an event stream"): UTF-8
 * text, lines ended by CRLF, LF or CR, `field: value` lines gathered into
 * one event until a blank line dispatches it, lines starting with `:` are
 * comments (the relay's heartbeats). Bytes come in whatever chunks the
 * network gives, so an event, a line, a CRLF pair or a multi-byte UTF-8
 * character may be split across two chunks; the parser keeps what it has not
 * finished until the rest arrives. An event the stream ends in the middle of
 * is dropped, as the standard says: only whole events are handed out.
 */
import { InvalidRelayResponseError } from './errors.ts';

/** One dispatched event. */
export interface ServerSentEvent {
  /** The `event:` field, `message` when the event named none. */
  readonly event: string;
  /** The `data:` lines, joined with `\n`. */
  readonly data: string;
  /** The last `id:` seen so far on this stream, if any. */
  readonly lastEventId?: string;
}

export interface SseParserOptions {
  /**
   * The most characters one event may gather (its lines and data) before the
   * stream counts as broken: a server that never ends its line or event
   * would otherwise grow the buffer without end. Default 1 MiB.
   */
  readonly maxEventChars?: number;
}

const DEFAULT_MAX_EVENT_CHARS = 1024 * 1024;

/** The push parser: give it chunks as they come, take the events each one completed. */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  readonly #maxEventChars: number;
  /** Text of the line not ended yet. */
  #line = '';
  /** The last chunk ended in CR: a LF starting the next one belongs to it (CRLF split in two). */
  #afterCr = false;
  /** Nothing decoded yet: a byte-order mark at the very start is dropped. */
  #atStart = true;
  #eventType = '';
  #data = '';
  #hasData = false;
  #lastEventId: string | undefined;

  constructor(options: SseParserOptions = {}) {
    this.#maxEventChars = options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS;
  }

  /** Parses `chunk`; returns the events it completed, in order. */
  push(chunk: Uint8Array): ServerSentEvent[] {
    // `stream: true` keeps the first bytes of a character cut at the chunk's end for the next chunk.
    return this.#feed(this.#decoder.decode(chunk, { stream: true }));
  }

  /**
   * The stream ended: finishes the decoder (a cut character becomes U+FFFD)
   * and returns what that completed. A last event without its blank line is
   * dropped, as the standard says.
   */
  end(): ServerSentEvent[] {
    const events = this.#feed(this.#decoder.decode());
    this.#line = '';
    this.#eventType = '';
    this.#data = '';
    this.#hasData = false;
    return events;
  }

  #feed(text: string): ServerSentEvent[] {
    if (this.#atStart && text.length > 0) {
      this.#atStart = false;
      if (text.startsWith('\uFEFF')) text = text.slice(1);
    }
    if (this.#afterCr && text.length > 0) {
      this.#afterCr = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    const events: ServerSentEvent[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) continue;
      const line = this.#line + text.slice(start, i);
      this.#line = '';
      if (c === 0x0d) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 0x0a) i++;
        } else {
          this.#afterCr = true;
        }
      }
      start = i + 1;
      const event = this.#processLine(line);
      if (event) events.push(event);
    }
    this.#line += text.slice(start);
    if (this.#line.length + this.#data.length > this.#maxEventChars) {
      throw new InvalidRelayResponseError(
        `an event on the stream is longer than ${this.#maxEventChars} characters; the stream is broken`,
      );
    }
    return events;
  }

  #processLine(line: string): ServerSentEvent | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined; // a comment: the relay's heartbeat
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#eventType = value;
        break;
      case 'data':
        this.#data += this.#hasData ? `\n${value}` : value;
        this.#hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastEventId = value;
        break;
      default:
        // `retry` and unknown fields: the SDK reconnects on its own schedule.
        break;
    }
    if (this.#data.length > this.#maxEventChars) {
      throw new InvalidRelayResponseError(
        `an event on the stream is longer than ${this.#maxEventChars} characters; the stream is broken`,
      );
    }
    return undefined;
  }

  #dispatch(): ServerSentEvent | undefined {
    const event = this.#eventType === '' ? 'message' : this.#eventType;
    const data = this.#data;
    const hasData = this.#hasData;
    this.#eventType = '';
    this.#data = '';
    this.#hasData = false;
    // An event with no data line is not dispatched (the standard's rule).
    if (!hasData) return undefined;
    return this.#lastEventId === undefined ? { event, data } : { event, data, lastEventId: this.#lastEventId };
  }
}

export interface ReadSseOptions extends SseParserOptions {
  /** Called for every chunk read, comments included: the caller's sign that the connection is alive. */
  readonly onChunk?: () => void;
}

/**
 * The events of `body` as they arrive. Ends when the stream does (the
 * caller tells an early end from a finished one by the events it got);
 * throws what reading throws (an abort, a reset connection). Leaving the
 * loop early cancels the body, which closes the connection.
 */
export async function* readServerSentEvents(
  body: ReadableStream<Uint8Array>,
  options: ReadSseOptions = {},
): AsyncGenerator<ServerSentEvent, void, undefined> {
  const parser = new SseParser(options);
  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      options.onChunk?.();
      yield* parser.push(value);
    }
    finished = true;
    yield* parser.end();
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
