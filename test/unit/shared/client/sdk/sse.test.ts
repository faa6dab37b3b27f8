/**
 * The SDK's Server-Sent Events reader (runs in Node and in Chromium): events
 * cut anywhere across chunks, multi-byte UTF-8 cut inside a character, the
 * three line endings, heartbeats, and a stream that ends early.
 */
import { describe, expect, it } from 'vitest';
import { InvalidRelayResponseError } from '#client/sdk/errors.ts';
import { readServerSentEvents, SseParser, type ServerSentEvent } from '#client/sdk/sse.ts';

const encoder = new TextEncoder();

/** A body as fetch gives it: a Response's stream, fed `chunks` one by one. */
function bodyOf(chunks: readonly Uint8Array[], onCancel?: () => void): ReadableStream<Uint8Array> {
  let i = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    cancel() {
      onCancel?.();
    },
  });
  const body = new Response(source).body;
  if (body === null) throw new Error('no body');
  return body;
}

async function readAll(chunks: readonly Uint8Array[], onChunk?: () => void): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for await (const event of readServerSentEvents(bodyOf(chunks), onChunk ? { onChunk } : {})) events.push(event);
  return events;
}

/** `bytes` cut at each of `cuts`. */
function cutAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [0, ...cuts, bytes.length];
  return points.slice(1).map((end, i) => bytes.slice(points[i], end));
}

// The relay's stream for a generation: text events with multi-byte characters (2, 3 and 4 bytes), heartbeats, the end.
const TEXT_STREAM =
  ': connected\n\n' +
  'event: text\ndata: {"index":0,"text":"In the beginning"}\n\n' +
  ': heartbeat\n\n' +
  'event: text\r\ndata: {"index":1,"text":" café 中文"}\r\n\r\n' +
  'event: text\rdata: {"index":2,"text":" 🌍!"}\r\r' +
  'event: end\ndata: {"task":{"id":"t","state":"settled"}}\n\n';
const TEXT_EVENTS: ServerSentEvent[] = [
  { event: 'text', data: '{"index":0,"text":"In the beginning"}' },
  { event: 'text', data: '{"index":1,"text":" café 中文"}' },
  { event: 'text', data: '{"index":2,"text":" 🌍!"}' },
  { event: 'end', data: '{"task":{"id":"t","state":"settled"}}' },
];

describe('the SSE reader', () => {
  it('reads events, comments and all three line endings from one chunk', async () => {
    expect(await readAll([encoder.encode(TEXT_STREAM)])).toEqual(TEXT_EVENTS);
  });

  it('gives the same events however the bytes are cut: one byte at a time, and at every single cut', async () => {
    const bytes = encoder.encode(TEXT_STREAM);
    const oneByOne = Array.from({ length: bytes.length }, (_, i) => i + 1).slice(0, -1);
    expect(await readAll(cutAt(bytes, oneByOne))).toEqual(TEXT_EVENTS);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await readAll(cutAt(bytes, [cut])), `cut at byte ${cut}`).toEqual(TEXT_EVENTS);
    }
  });

  it('keeps a multi-byte character cut between chunks whole', async () => {
    const bytes = encoder.encode('event: text\ndata: 🌍\n\n');
    const start = bytes.indexOf(0xf0); // the emoji's first byte of four
    for (const cuts of [[start + 1], [start + 2], [start + 3], [start + 1, start + 2, start + 3]]) {
      expect(await readAll(cutAt(bytes, cuts))).toEqual([{ event: 'text', data: '🌍' }]);
    }
    // Cut in the middle of a two-byte and a three-byte character, with the push parser itself.
    const parser = new SseParser();
    const mixed = encoder.encode('data: é中\n\n');
    const e = mixed.indexOf(0xc3);
    expect(parser.push(mixed.slice(0, e + 1))).toEqual([]);
    expect(parser.push(mixed.slice(e + 1, e + 3))).toEqual([]);
    expect(parser.push(mixed.slice(e + 3))).toEqual([{ event: 'message', data: 'é中' }]);
  });

  it('takes a CR at the end of a chunk and a LF at the start of the next as one line end', () => {
    const parser = new SseParser();
    expect(parser.push(encoder.encode('data: a\r'))).toEqual([]);
    // Not a blank line: the LF ends the CR's line, so both data lines make one event.
    expect(parser.push(encoder.encode('\ndata: b\r'))).toEqual([]);
    expect(parser.push(encoder.encode('\n\r'))).toEqual([{ event: 'message', data: 'a\nb' }]);
    // A LF alone after the CR that ended the blank line belongs to it: no second, empty dispatch, no lost line.
    expect(parser.push(encoder.encode('\n'))).toEqual([]);
    expect(parser.push(encoder.encode('data: c\n\n'))).toEqual([{ event: 'message', data: 'c' }]);
  });

  it('treats heartbeats as comments: no events, but each chunk counts as a sign of life', async () => {
    let chunks = 0;
    const heartbeats = [': heartbeat\n\n', ':\n\n', ': heartbeat\n\n'].map((h) => encoder.encode(h));
    expect(
      await readAll(heartbeats, () => {
        chunks++;
      }),
    ).toEqual([]);
    expect(chunks).toBe(3);
  });

  it('drops the last event when the stream ends before its blank line (an early end)', async () => {
    const cut = 'event: text\ndata: {"index":0,"text":"a"}\n\nevent: text\ndata: {"index":1,"text":"b"}\n';
    expect(await readAll([encoder.encode(cut)])).toEqual([{ event: 'text', data: '{"index":0,"text":"a"}' }]);
    // Ended inside a character and inside a line: nothing half-made comes out.
    const bytes = encoder.encode('data: one\n\ndata: 🌍 two');
    expect(await readAll([bytes.slice(0, bytes.length - 6)])).toEqual([{ event: 'message', data: 'one' }]);
    // A stream that closes at once gives no events.
    expect(await readAll([])).toEqual([]);
  });

  it('follows the standard on fields: multi-line data, no space, no colon, id, unknown fields, a BOM', () => {
    const parser = new SseParser();
    const events = parser.push(
      encoder.encode(
        '\uFEFFdata: first\ndata:second\ndata\nretry: 1000\nfoo: bar\nid: 7\n\n' +
          'event: text\n\n' + // no data: not dispatched, and the type does not carry over
          'data:  two spaces\n\n',
      ),
    );
    expect(events).toEqual([
      { event: 'message', data: 'first\nsecond\n', lastEventId: '7' },
      { event: 'message', data: ' two spaces', lastEventId: '7' },
    ]);
    expect(parser.end()).toEqual([]);
  });

  it('refuses an event longer than the limit instead of buffering without end', () => {
    const parser = new SseParser({ maxEventChars: 100 });
    expect(() => parser.push(encoder.encode(`data: ${'x'.repeat(200)}`))).toThrow(InvalidRelayResponseError);
    const many = new SseParser({ maxEventChars: 100 });
    expect(() => many.push(encoder.encode('data: 0123456789\n'.repeat(20)))).toThrow(InvalidRelayResponseError);
  });

  it('cancels the body (closing the connection) when the reader leaves early', async () => {
    let cancelled = false;
    const body = bodyOf([encoder.encode('data: a\n\n'), encoder.encode('data: b\n\n')], () => (cancelled = true));
    for await (const event of readServerSentEvents(body)) {
      expect(event.data).toBe('a');
      break;
    }
    expect(cancelled).toBe(true);
  });
});
