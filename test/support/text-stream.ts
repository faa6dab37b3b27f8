/**
 * Text generation on a real relay, as the end-to-end tests drive it over
 * HTTP: sign and submit a generation, follow its Server-Sent Events
 * (`GET /api/tasks/:id/stream`) to the end, stop it mid-stream with the
 * requester's signed task/stop (`POST /api/tasks/:id/stop`), and check the
 * stream against the settled result and the requester's balance against
 * the quote for the pieces made. Who ran it, and who was paid, each test
 * checks itself.
 */
import { expect } from 'vitest';
import { fromBase64Url, sha256Hex, toBase64Url } from '#core/encoding/bytes.ts';
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, TaskId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { quoteTask } from '#core/models/pricing.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import { textGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import { decodeTextResult, type TextGenerationResult } from '#core/pipelines/text-generation/result.ts';
import { unwrap } from '#core/result.ts';
import type { ApiAnswer, RelayApi } from './relay-api.ts';

/** A prompt the shipped model continues for its whole context (about 240 pieces). */
export const LONG_PROMPT = 'Genesis 1:1';
/** A stop is sent once this many text events have arrived. */
export const STOP_AFTER = 5;

/** What these tests read of a task. */
export interface StreamedTaskView {
  readonly id: TaskId;
  readonly state: string;
  readonly worker: AccountId;
  readonly price: number;
  readonly maxPrice: number;
  readonly error?: { readonly code: string };
}

export interface Followed {
  readonly frames: { readonly index: number; readonly text: string }[];
  readonly end: StreamedTaskView;
}

/** What a streamed (and maybe stopped) generation came to. */
export interface StreamedGeneration {
  readonly end: StreamedTaskView;
  readonly output: TextGenerationResult;
  /** What it cost: the quote for the pieces it read and made. */
  readonly price: number;
}

export interface TextStreamInit {
  /** The relay's base URL (read at each call). */
  readonly url: () => string;
  readonly api: RelayApi;
  readonly network: () => AccountId;
  /** The language model (read at each call). */
  readonly model: () => ModelEntry;
  /** Who submits and stops the generations. */
  readonly requester: Signer;
}

export interface TextStreams {
  readonly balanceOf: (account: AccountId) => Promise<number>;
  /** Follows task `id`'s events until its end, calling `onText` with how many text events came so far. */
  readonly follow: (id: TaskId, onText?: (count: number) => void) => Promise<Followed>;
  readonly signedTask: (entry: ModelEntry, input: Uint8Array, maxPrice: number, signer?: Signer) => Promise<Uint8Array>;
  /** The requester's (or `signer`'s) signed stop of `task`, base64url as the API takes it. */
  readonly signedStop: (task: TaskId, signer?: Signer) => Promise<string>;
  /** A generation's input and the most it may cost (its quote, offered as its maxPrice). */
  readonly generation: (prompt: string, maxPieces: number) => { readonly input: Uint8Array; readonly most: number };
  readonly submit: (entry: ModelEntry, input: Uint8Array, maxPrice: number) => Promise<StreamedTaskView>;
  readonly resultOf: (id: TaskId) => Promise<TextGenerationResult>;
  /** Streams a whole generation and checks the stream against the settled result and the requester's balance. */
  readonly streamWhole: (prompt: string, maxPieces: number) => Promise<StreamedGeneration>;
  /** Streams a long generation, stops it after {@link STOP_AFTER} pieces, and checks what it made and cost. */
  readonly streamStopped: () => Promise<StreamedGeneration>;
}

export function textStreams(init: TextStreamInit): TextStreams {
  const { api, requester } = init;

  const balanceOf = async (account: AccountId): Promise<number> =>
    (await api(`/api/ledger/balance/${account}`)).body.balance as number;

  async function follow(id: TaskId, onText: (count: number) => void = () => undefined): Promise<Followed> {
    const response = await fetch(`${init.url()}/api/tasks/${id}/stream`, { signal: AbortSignal.timeout(60_000) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const body = response.body;
    if (body === null) throw new Error('the stream has no body');
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    const frames: { index: number; text: string }[] = [];
    let buffered = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the stream closed before its end event: ${JSON.stringify(frames)}`);
      buffered += value;
      for (let cut = buffered.indexOf('\n\n'); cut >= 0; cut = buffered.indexOf('\n\n')) {
        const block = buffered.slice(0, cut);
        buffered = buffered.slice(cut + 2);
        if (block.startsWith(':')) continue; // a heartbeat
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as unknown;
        if (event === 'text') {
          frames.push(data as { index: number; text: string });
          onText(frames.length);
        } else if (event === 'end') {
          // The relay closes the stream after its end.
          expect((await reader.read()).done).toBe(true);
          return { frames, end: (data as { task: StreamedTaskView }).task };
        } else {
          throw new Error(`unexpected event ${String(event)}`);
        }
      }
    }
  }

  async function signedTask(entry: ModelEntry, input: Uint8Array, maxPrice: number, signer = requester) {
    return encodeEnvelope(
      await signEnvelope(signer, 'task', {
        v: 1,
        net: init.network(),
        model: entry.id,
        input: sha256Hex(input) as Hash,
        inputBytes: input.length,
        maxPrice,
        nonce: crypto.getRandomValues(new Uint8Array(16)),
        ts: Date.now(),
      }),
    );
  }

  async function signedStop(task: TaskId, signer = requester): Promise<string> {
    const payload = { v: 1, net: init.network(), task, ts: Date.now() };
    return toBase64Url(encodeEnvelope(await signEnvelope(signer, 'task/stop', payload)));
  }

  function generation(prompt: string, maxPieces: number): { input: Uint8Array; most: number } {
    const input = textGenerationPipeline.encodeInput(textGenerationInput({ prompt, maxPieces }));
    const decoded = unwrap(textGenerationPipeline.decodeInput(input));
    return { input, most: unwrap(quoteTask(init.model(), textGenerationPipeline, decoded)).price };
  }

  async function submit(entry: ModelEntry, input: Uint8Array, maxPrice: number): Promise<StreamedTaskView> {
    const task = await signedTask(entry, input, maxPrice);
    const submitted = await api('/api/tasks', { task: toBase64Url(task), input: toBase64Url(input) });
    expect(submitted.status).toBe(201);
    return submitted.body.task as StreamedTaskView;
  }

  async function resultOf(id: TaskId): Promise<TextGenerationResult> {
    const answer = await api(`/api/tasks/${id}/result`);
    expect(answer.status).toBe(200);
    return unwrap(decodeTextResult(fromBase64Url(answer.body.output as string)));
  }

  /** What the relay must charge for `output`: the quote for the pieces it read and made. */
  function priceOf(input: Uint8Array, output: TextGenerationResult): number {
    const decoded = unwrap(textGenerationPipeline.decodeInput(input));
    return unwrap(quoteTask(init.model(), textGenerationPipeline, decoded, output)).price;
  }

  return {
    balanceOf,
    follow,
    signedTask,
    signedStop,
    generation,
    submit,
    resultOf,

    streamWhole: async (prompt, maxPieces) => {
      const { input, most } = generation(prompt, maxPieces);
      const before = await balanceOf(requester.accountId);
      const view = await submit(init.model(), input, most);
      const { frames, end } = await follow(view.id);
      expect(end.state).toBe('settled');
      const output = await resultOf(view.id);
      // Every piece, in order, and together exactly the result's text.
      expect(frames.map((f) => f.index)).toEqual(output.pieces.map((_, i) => i));
      expect(frames.map((f) => f.text).join('')).toBe(output.text);
      expect(output.finish).not.toBe('stopped');
      const price = priceOf(input, output);
      expect(end.price).toBe(price);
      expect(await balanceOf(requester.accountId)).toBe(before - price);
      return { end, output, price };
    },

    streamStopped: async () => {
      const { input, most } = generation(LONG_PROMPT, 4096);
      const before = await balanceOf(requester.accountId);
      const view = await submit(init.model(), input, most);
      const stop = await signedStop(view.id);
      let stopping: Promise<ApiAnswer> | undefined;
      const { frames, end } = await follow(view.id, (count) => {
        if (count === STOP_AFTER) stopping = api(`/api/tasks/${view.id}/stop`, { stop });
      });
      if (stopping === undefined) throw new Error('the generation made too few pieces to stop');
      const stopped = await stopping;
      expect(stopped.status).toBe(200);
      // The stop answers once the shorter result is settled.
      expect(stopped.body.task).toMatchObject({ id: view.id, state: 'settled' });
      expect(end.state).toBe('settled');
      const output = await resultOf(view.id);
      expect(output.finish).toBe('stopped');
      expect(output.stopProof).toEqual(fromBase64Url(stop));
      expect(output.pieces.length).toBeGreaterThanOrEqual(STOP_AFTER);
      // Fewer pieces than the whole generation makes (the context allows about 240 after this prompt).
      expect(output.pieces.length).toBeLessThan(200);
      expect(frames.map((f) => f.text).join('')).toBe(output.text);
      expect(frames).toHaveLength(output.pieces.length);
      const price = priceOf(input, output);
      expect(price).toBeLessThan(most);
      expect(end.price).toBe(price);
      // Exactly the pieces made: the rest of the escrow came back in the settlement.
      expect(await balanceOf(requester.accountId)).toBe(before - price);
      return { end, output, price };
    },
  };
}
