/**
 * What text generation costs on the real relay process, over HTTP: an input
 * the model cannot take (an empty prompt, one longer than its context, no
 * pieces or far too many to generate) and a price below the quote for the
 * prompt are each refused with a typed 4xx and take no money; a generation
 * on the relay's pool is escrowed at the task's maxPrice and settled for the
 * pieces it read and made (the shipped model's 5 and 20 tokens per 1,000),
 * the rest of the escrow coming back to the requester in the same settlement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, sha256Hex, toBase64Url } from '#core/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import type { TaskPayload } from '#core/messages/task.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import { textGenerationInput, type TextGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import { decodeTextResult } from '#core/pipelines/text-generation/result.ts';
import { unwrap } from '#core/result.ts';
import { onboardAccount, relayApi } from '#test/relay-api.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

const FEE_BPS = 500;
let relay: RelayProcess;
let network: AccountId;
let model: ModelEntry;
const api = relayApi(() => relay.url);
const alice = generateNobleSigner();

async function signedTask(input: Uint8Array, maxPrice: number): Promise<Uint8Array> {
  const payload: TaskPayload = {
    v: 1,
    net: network,
    model: model.id,
    input: sha256Hex(input) as Hash,
    inputBytes: input.length,
    maxPrice,
    nonce: crypto.getRandomValues(new Uint8Array(16)),
    ts: Date.now(),
  };
  return encodeEnvelope(await signEnvelope(alice, 'task', payload));
}

async function submit(input: Uint8Array, maxPrice: number) {
  return api('/api/tasks', { task: toBase64Url(await signedTask(input, maxPrice)), input: toBase64Url(input) });
}

const balance = async (account: AccountId): Promise<number> =>
  (await api(`/api/ledger/balance/${account}`)).body.balance as number;

/** Encoded as a client would send it, without the checks a client makes first. */
const encode = (fields: Partial<TextGenerationInput>): Uint8Array =>
  textGenerationPipeline.encodeInput({
    ...textGenerationInput({ prompt: 'Psalms 23:1 ' }),
    ...fields,
  });

beforeAll(async () => {
  relay = await startRelayProcess(['--pow-difficulty', '6', '--block-interval', '200', '--fee-bps', String(FEE_BPS)]);
  network = (await api('/api/onboard')).body.network as AccountId;
  const catalogue = (await api('/api/models')).body as unknown as Catalogue;
  const found = catalogue.models.find((m) => m.kind === 'text-generation');
  if (found === undefined) throw new Error('the relay offers no text-generation model');
  model = found;
  await onboardAccount(api, network, alice, 6);
}, 120_000);

afterAll(async () => {
  expect(await relay.stop()).toBe(0);
  await relay.cleanup();
});

describe('text generation priced by pieces on the relay', () => {
  it('refuses an input the model cannot take, or a price below the quote, with a typed 4xx and no escrow', async () => {
    const before = await balance(alice.accountId);
    const context = model.textGeneration?.contextLength ?? 0;
    // The most "Psalms 23:1 " (12 bytes and the beginning-of-text piece) may cost with 128 pieces: 5 per 1,000 read, 20 written.
    const quote = Math.ceil((13 * 5 + 128 * 20) / 1000);
    const cases: [string, Uint8Array, number, number, string][] = [
      ['an empty prompt', encode({ prompt: '' }), 50, 400, 'invalid-model-input'],
      [
        'a blank conversation',
        encode({ prompt: undefined, messages: [{ role: 'user', content: ' ' }] }),
        50,
        400,
        'invalid-model-input',
      ],
      [
        'a prompt over the context',
        encode({ prompt: 'In the beginning '.repeat(context / 8) }),
        50,
        400,
        'invalid-model-input',
      ],
      ['maxPieces 0', encode({ maxPieces: 0 }), 50, 400, 'invalid-model-input'],
      ['maxPieces 100000', encode({ maxPieces: 100_000 }), 50, 400, 'invalid-model-input'],
      ['a price below the quote', encode({}), quote - 1, 402, 'price-too-low'],
    ];
    for (const [name, input, maxPrice, status, code] of cases) {
      const answer = await submit(input, maxPrice);
      expect({ name, status: answer.status, code: (answer.body.error as { code?: string }).code }).toEqual({
        name,
        status,
        code,
      });
    }
    // The quote itself is enough.
    expect((await submit(encode({ maxPieces: 1 }), 1)).status).toBe(201);
    expect((await api(`/api/tasks?account=${alice.accountId}`)).body.tasks).toHaveLength(1);
    await waitUntilSettled();
    expect(await balance(alice.accountId)).toBe(before - 1);
  });

  it('settles a generation for the pieces it read and made, refunding the rest of the escrow', async () => {
    const before = await balance(alice.accountId);
    const relayBefore = await balance(network);
    // Sampled; on the relay's native pool it ends by itself after 42 of the 200 pieces it may generate.
    const input = encode({ maxPieces: 200, temperature: 0.7, topK: 40, topP: 0.95, seed: 1 });
    const submitted = await submit(input, 50);
    expect(submitted.status).toBe(201);
    const escrowed = submitted.body.task as { id: string; price: number; maxPrice: number };
    // Admitted at the most it may cost.
    expect(escrowed).toMatchObject({ price: Math.ceil((13 * 5 + 200 * 20) / 1000), maxPrice: 50 });
    const view = await waitUntilSettled(escrowed.id);

    const result = (await api(`/api/tasks/${escrowed.id}/result`)).body;
    const output = unwrap(decodeTextResult(fromBase64Url(result.output as string)));
    const receipt = unwrap(
      readMessage(fromBase64Url(result.receipt as string), 'receipt', decodeReceiptPayload, nobleVerifier),
    );
    expect(output).toMatchObject({ finish: 'stop', promptPieces: 13 });
    expect(output.pieces.length).toBeLessThan(100);
    expect(receipt.payload.units).toBe(output.pieces.length);

    const price = Math.max(1, Math.ceil((13 * 5 + output.pieces.length * 20) / 1000));
    expect(view).toMatchObject({ state: 'settled', price, units: output.pieces.length });
    expect(price).toBeLessThan(escrowed.price);
    // 50 escrowed, the price paid, the rest back; the relay ran it, so it keeps its share and the fee.
    expect(await balance(alice.accountId)).toBe(before - price);
    expect(await balance(network)).toBe(relayBefore + price);
  });
});

/** Waits until task `id` (default: every task of alice) has settled; its view. */
async function waitUntilSettled(id?: string): Promise<{ state: string; price: number; units: number }> {
  const end = Date.now() + 30_000;
  for (;;) {
    const tasks = (await api(`/api/tasks?account=${alice.accountId}`)).body.tasks as {
      id: string;
      state: string;
      price: number;
      units: number;
    }[];
    const mine = tasks.filter((t) => id === undefined || t.id === id);
    if (mine.length > 0 && mine.every((t) => t.state === 'settled')) return mine[0] as (typeof mine)[number];
    if (Date.now() > end) throw new Error(`not settled: ${JSON.stringify(mine)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
