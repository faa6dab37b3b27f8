/**
 * The task protocol's streaming messages: a worker's `{ text: { index, text } }`
 * frames and final answer, and a sender's `{ stop: <bytes> }`, each parsed
 * strictly (bad shapes and out-of-bound values are not messages), and
 * `readTaskAnswer`, which reads frames until the answer over a real
 * length-prefixed DAG-CBOR channel and refuses more frames than a
 * generation can make.
 */
import { streamPair } from '@libp2p/utils';
import { describe, expect, it } from 'vitest';
import { MAX_ENVELOPE_BYTES } from '#core/envelope/envelope.ts';
import {
  MAX_TASK_MESSAGE_BYTES,
  MAX_TEXT_FRAME_CHARS,
  MAX_TEXT_FRAMES,
  messageChannel,
  parseStopMessage,
  parseTaskAnswer,
  parseTextMessage,
  parseWorkerMessage,
  readTaskAnswer,
} from '#client/p2p/task-protocol.ts';

const receipt = new Uint8Array([1, 2, 3]);
const output = new Uint8Array([4, 5]);

describe('task protocol: text frames', () => {
  it('parses a text frame, and nothing else as one', () => {
    expect(parseTextMessage({ text: { index: 0, text: 'In the' } })).toEqual({ index: 0, text: 'In the' });
    expect(parseTextMessage({ text: { index: 7, text: '' } })).toEqual({ index: 7, text: '' });
    for (const bad of [
      undefined,
      null,
      'text',
      { text: 'In the' },
      { text: { index: -1, text: 'a' } },
      { text: { index: 1.5, text: 'a' } },
      { text: { index: MAX_TEXT_FRAMES, text: 'a' } },
      { text: { index: '0', text: 'a' } },
      { text: { index: 0, text: 5 } },
      { text: { index: 0, text: 'x'.repeat(MAX_TEXT_FRAME_CHARS + 1) } },
      { receipt, output },
    ]) {
      expect(parseTextMessage(bad)).toBeUndefined();
    }
  });

  it('tells a worker message apart: a text frame, a final answer, or neither', () => {
    expect(parseWorkerMessage({ text: { index: 2, text: 'b' } })).toEqual({ text: { index: 2, text: 'b' } });
    expect(parseWorkerMessage({ receipt, output })).toEqual({ receipt, output });
    expect(parseWorkerMessage({ error: { code: 'busy', message: 'no slot' } })).toEqual({
      error: { code: 'busy', message: 'no slot' },
    });
    // A broken frame is not an answer either, nor is a frame taken for one.
    expect(parseWorkerMessage({ text: { index: -3, text: 'b' } })).toBeUndefined();
    expect(parseTaskAnswer({ text: { index: 0, text: 'b' } })).toBeUndefined();
  });
});

describe('task protocol: stop', () => {
  it('takes the bytes of a stop message, no larger than an envelope, and nothing else', () => {
    const stop = new Uint8Array([9, 9, 9]);
    expect(parseStopMessage({ stop })).toEqual(stop);
    expect(parseStopMessage({ stop: new Uint8Array(MAX_ENVELOPE_BYTES + 1) })).toBeUndefined();
    expect(parseStopMessage({ stop: 'AAEC' })).toBeUndefined();
    expect(parseStopMessage({ cancel: stop })).toBeUndefined();
    expect(parseStopMessage([stop])).toBeUndefined();
  });
});

describe('task protocol: readTaskAnswer', () => {
  it('hands each text frame to onText in order and returns the final answer', async () => {
    const [a, b] = await streamPair();
    const worker = messageChannel(a, MAX_TASK_MESSAGE_BYTES);
    const sender = messageChannel(b, MAX_TASK_MESSAGE_BYTES);
    const frames: string[] = [];
    const reading = readTaskAnswer(sender, { onText: (index, text) => frames.push(`${index}:${text}`) });
    for (const [index, text] of ['In ', 'the ', 'beginning'].entries()) await worker.write({ text: { index, text } });
    await worker.write({ receipt, output });
    expect(await reading).toEqual({ receipt, output });
    expect(frames).toEqual(['0:In ', '1:the ', '2:beginning']);
  });

  it('refuses a message that is neither a frame nor an answer, and more frames than a generation makes', async () => {
    const [a, b] = await streamPair();
    const worker = messageChannel(a, MAX_TASK_MESSAGE_BYTES);
    const sender = messageChannel(b, MAX_TASK_MESSAGE_BYTES);
    const reading = readTaskAnswer(sender);
    await worker.write({ text: { index: 0, text: 'a' } });
    await worker.write({ nonsense: true });
    await expect(reading).rejects.toMatchObject({ name: 'MalformedTaskAnswerError' });

    // A worker that streams past the bound is cut off at the first frame too many.
    let read = 0;
    const endless = {
      read: () => Promise.resolve({ text: { index: Math.min(read++, MAX_TEXT_FRAMES - 1), text: 'x' } }),
    };
    let seen = 0;
    await expect(readTaskAnswer(endless, { onText: () => seen++ })).rejects.toMatchObject({
      name: 'MalformedTaskAnswerError',
    });
    expect(seen).toBe(MAX_TEXT_FRAMES);
  });
});
