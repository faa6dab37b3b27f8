/**
 * Text generation through the relay's task service, with its real ledger
 * and its real inference pool on dist/models: what a task costs is counted
 * by the relay in pieces (the prompt and what was generated, never the
 * worker's counts) and settled with exact balances, the rest of the escrow
 * going back to the requester in the same settlement; an input the model
 * cannot take is refused before anything is escrowed; and a lying worker
 * (other pieces, a cut answer claimed as finished, inflated counts, a stop
 * nobody asked for) is caught, by the pool's forced pass or by counting,
 * slashed and never paid, while the requester gets the pool's honest answer.
 *
 * The workers are scripted here (no libp2p): each runs the task honestly on
 * the same pool and then tells the lie its test gives it, with a receipt it
 * signs over the lie.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, TaskId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { signTransaction } from '#core/ledger/transaction.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import { decodeTaskPayload } from '#core/messages/task.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import { textGenerationInput, type TextGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import {
  decodeTextResult,
  encodeTextResult,
  type TextGenerationResult,
} from '#core/pipelines/text-generation/result.ts';
import { unwrap } from '#core/result.ts';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { readCatalogue } from '#node/models/catalogue-store.ts';
import { createInferencePool, type InferencePool } from '#node/pool/inference-pool.ts';
import { createLedgerService, type LedgerService } from '#server/ledger/ledger-service.ts';
import { createMemoryLedgerStore } from '#server/ledger/memory-store.ts';
import type { DispatchResult, Scheduler } from '#server/scheduler/scheduler.ts';
import { createTaskService, type TaskService, type TaskTrustInit } from '#server/task-service/task-service.ts';
import { expectOk, onboard } from '#test/ledger-fixtures.ts';
import { createTestNetwork, signerFor, T0, TEST_PARAMS, type TestNetwork } from '#test/network.ts';
import { fakeClock, fakeWorker, signReceipt, signTask, verifier, type FakeWorker } from '#test/task-service-fakes.ts';

/**
 * Prices far above the shipped model's (5 and 20 per 1,000 pieces), so that
 * a task costs tens of tokens and the rounding and the relay's fee show.
 */
const PER_THOUSAND_PROMPT = 700;
const PER_THOUSAND_GENERATED = 2300;
const MAX_PRICE = 500;
const STAKE = TEST_PARAMS.minWorkerStake;

let net: TestNetwork;
let entry: ModelEntry;
let catalogue: Catalogue;
let pool: InferencePool;

beforeAll(async () => {
  net = await createTestNetwork();
  const shipped = (await readCatalogue('dist/models')).models.find((m) => m.kind === 'text-generation');
  if (shipped?.textGeneration === undefined) throw new Error('no text-generation model in dist/models: npm run models');
  const price = { perThousandPrompt: PER_THOUSAND_PROMPT, perThousandGenerated: PER_THOUSAND_GENERATED };
  entry = { ...shipped, textGeneration: { ...shipped.textGeneration, price } };
  catalogue = { v: 1, models: [entry] };
  pool = createInferencePool({ modelsDir: 'dist/models', catalogue: () => Promise.resolve(catalogue) });
  await pool.start();
});

afterAll(async () => {
  await pool.stop();
});

/** What a scripted worker sends back: the output it claims and the units its receipt says. */
interface Claim {
  readonly output: TextGenerationResult;
  readonly units?: number;
}

/** The task a scripted worker answers: its id, and its requester (whose stop would be the valid one). */
interface Answering {
  readonly id: TaskId;
  readonly requester: Signer;
}

/** Turns the honest answer to a task into what the worker claims. */
type Lie = (honest: TextGenerationResult, task: Answering) => Claim | Promise<Claim>;

const honestly: Lie = (honest) => ({ output: honest });

/** The text the shipped model's byte pieces make (its answers are ASCII). */
const textOf = (pieces: readonly number[]): string =>
  new TextDecoder().decode(Uint8Array.from(pieces.filter((p) => p < 256)));

/** A scheduler over scripted workers: each runs the task on the pool, then answers as its lie says. */
function scriptedScheduler(
  workers: readonly { readonly worker: FakeWorker; readonly lie: Lie }[],
  requester: Signer,
): Pick<Scheduler, 'pick' | 'dispatch' | 'workers' | 'hold'> {
  const find = (account: AccountId) => workers.find((w) => w.worker.info.account === account);
  return {
    workers: () => workers.map((w) => w.worker.info),
    pick(_entry, options = {}) {
      const exclude = new Set(options.exclude ?? []);
      return workers.map((w) => w.worker.info).find((w) => !exclude.has(w.account));
    },
    hold: () => () => undefined,
    async dispatch(to, task, input): Promise<DispatchResult> {
      const scripted = find(typeof to === 'string' ? to : to.account);
      if (scripted === undefined) throw new Error('no such scripted worker');
      const id = unwrap(readMessage(task, 'task', decodeTaskPayload, verifier)).id as TaskId;
      const honest = unwrap(decodeTextResult((await pool.run(entry.id, input)).output));
      const claim = await scripted.lie(honest, { id, requester });
      const output = encodeTextResult(claim.output);
      const units = claim.units ?? claim.output.pieces.length;
      const receiptBytes = await signReceipt(scripted.worker.signer, net.relay.accountId, id, entry.id, output, {
        units,
      });
      const receipt = unwrap(readMessage(receiptBytes, 'receipt', decodeReceiptPayload, verifier));
      return { receipt, receiptBytes, output, elapsedMs: 5 };
    },
  };
}

interface Setup {
  readonly ledger: LedgerService;
  readonly tasks: TaskService;
  readonly alice: Signer;
  readonly worker: FakeWorker;
  /** What the task service asked of the pool: whole runs, and forced-pass checks. */
  readonly poolUse: { runs: number; checks: number };
}

let accounts = 0;

/** A fresh ledger with a funded requester and a staked worker, and a task service over it. */
async function setup(lie: Lie | undefined, trust: TaskTrustInit = {}): Promise<Setup> {
  accounts++;
  const ledger = createLedgerService({
    store: createMemoryLedgerStore(),
    producer: net.relay,
    verifier: createNodeVerifier(),
    params: TEST_PARAMS,
    blockIntervalMs: 60_000,
  });
  await ledger.start();
  const alice = signerFor(`text requester ${accounts}`);
  const worker = fakeWorker(`text ${accounts}`, entry);
  expectOk(await onboard(ledger, net, alice));
  expectOk(await onboard(ledger, net, worker.signer));
  const stake = await signTransaction(worker.signer, 'tx/stake', {
    v: 1,
    net: net.relay.accountId,
    amount: STAKE,
    seq: 1,
  });
  expectOk(await ledger.submit(stake));
  const poolUse = { runs: 0, checks: 0 };
  const tasks = createTaskService({
    ledger,
    pool: {
      run: (...args) => {
        poolUse.runs++;
        return pool.run(...args);
      },
      check: (...args) => {
        poolUse.checks++;
        return pool.check(...args);
      },
    },
    ...(lie === undefined ? {} : { scheduler: scriptedScheduler([{ worker, lie }], alice) }),
    catalogue: () => Promise.resolve(catalogue),
    signer: net.relay,
    verifier,
    now: fakeClock().now,
    trust: { canaryRate: 0, recheckRate: 0, ...trust },
  });
  return { ledger, tasks, alice, worker, poolUse };
}

/** Sampled; on the native pool its answer ends (with end-of-text) after 42 of the 120 pieces it may generate. */
const INPUT: TextGenerationInput = textGenerationInput({
  messages: [{ role: 'user', content: 'Psalms 23:1' }],
  maxPieces: 120,
  temperature: 0.7,
  topK: 40,
  topP: 0.95,
  seed: 1,
});
const INPUT_BYTES = textGenerationPipeline.encodeInput(INPUT);
/** The beginning-of-text piece, then "Psalms 23:1 " byte by byte. */
const PROMPT_PIECES = 1 + 'Psalms 23:1 '.length;

/** The price the relay must settle for an answer of `generated` pieces to INPUT. */
const priceFor = (generated: number): number =>
  Math.ceil((PROMPT_PIECES * PER_THOUSAND_PROMPT + generated * PER_THOUSAND_GENERATED) / 1000);
const feeOf = (price: number): number => Math.floor((price * TEST_PARAMS.feeBps) / 10_000);

async function submit(s: Setup, input: Uint8Array = INPUT_BYTES, maxPrice = MAX_PRICE) {
  const { bytes, id } = await signTask(s.alice, entry, input, { maxPrice });
  await s.tasks.submit(bytes, input);
  await s.tasks.idle();
  return id;
}

/** The answer a settled task handed to its requester. */
function settledAnswer(s: Setup, id: TaskId): TextGenerationResult {
  const result = s.tasks.result(id);
  if (result === undefined) throw new Error('the task has no result');
  return unwrap(decodeTextResult(result.output));
}

async function signStop(signer: Signer, task: string, network: AccountId = net.relay.accountId) {
  return Uint8Array.from(encodeEnvelope(await signEnvelope(signer, 'task/stop', { v: 1, net: network, task, ts: T0 })));
}

describe('text generation on the relay', () => {
  it('admits a task at the most it may cost: its prompt and every piece it may generate', async () => {
    const s = await setup(undefined);
    const { bytes, id } = await signTask(s.alice, entry, INPUT_BYTES, { maxPrice: MAX_PRICE });
    const { task } = await s.tasks.submit(bytes, INPUT_BYTES);
    expect(task).toMatchObject({ id, price: priceFor(INPUT.maxPieces), units: INPUT.maxPieces, maxPrice: MAX_PRICE });
    await s.tasks.idle();
  });

  it('settles a generation on the pool per piece, refunding the rest of the escrow in the same settlement', async () => {
    const s = await setup(undefined);
    const id = await submit(s);
    const answer = settledAnswer(s, id);
    // It ended by itself well short of its limit, so it costs less than was escrowed for it.
    expect(answer).toMatchObject({ finish: 'stop', promptPieces: PROMPT_PIECES });
    expect(answer.pieces.length).toBeLessThan(INPUT.maxPieces / 2);
    const price = priceFor(answer.pieces.length);
    expect(price).toBeLessThan(priceFor(INPUT.maxPieces));
    expect(s.tasks.get(id)).toMatchObject({ state: 'settled', price, units: answer.pieces.length });
    // The requester escrowed MAX_PRICE and got back all but the price; the relay ran it, so it keeps all of it.
    expect(s.ledger.account(s.alice.accountId).balance).toBe(TEST_PARAMS.grantAmount - price);
    expect(s.ledger.escrow(id)).toMatchObject({ amount: MAX_PRICE, status: 'settled' });
  });

  it('pays an honest worker per piece once the forced pass accepts its sampled answer', async () => {
    const s = await setup(honestly, { recheckRate: 1 });
    const relayBefore = s.ledger.account(net.relay.accountId).balance;
    const id = await submit(s);
    const view = s.tasks.get(id);
    expect(view).toMatchObject({ state: 'settled', worker: s.worker.info.account, slashTxs: [] });
    const answer = settledAnswer(s, id);
    const price = priceFor(answer.pieces.length);
    expect(view.price).toBe(price);
    expect(price).toBeGreaterThan(20);
    expect(s.ledger.account(s.alice.accountId).balance).toBe(TEST_PARAMS.grantAmount - price);
    expect(s.ledger.account(s.worker.info.account)).toMatchObject({
      balance: TEST_PARAMS.grantAmount - STAKE + price - feeOf(price),
      stake: STAKE,
    });
    expect(s.ledger.account(net.relay.accountId).balance).toBe(relayBefore + feeOf(price));
    expect(s.tasks.trustTally()).toMatchObject({ rechecks: { 'pool-agreed': 1 }, mismatches: 0 });
    // The re-check was one forced pass on the pool, counted as verification; nothing was generated again.
    expect(s.poolUse).toEqual({ runs: 0, checks: 1 });
    expect(s.tasks.trustTally().runs.recheck).toBe(1);
  });

  it('settles an answer its requester stopped for the pieces made', async () => {
    const s = await setup(
      async (honest, task) => ({
        output: {
          ...honest,
          pieces: honest.pieces.slice(0, 6),
          text: textOf(honest.pieces.slice(0, 6)),
          finish: 'stopped',
          stopProof: await signStop(task.requester, task.id),
        },
      }),
      { recheckRate: 1 },
    );
    const id = await submit(s);
    expect(s.tasks.get(id)).toMatchObject({ state: 'settled', worker: s.worker.info.account, price: priceFor(6) });
    expect(s.ledger.account(s.alice.accountId).balance).toBe(TEST_PARAMS.grantAmount - priceFor(6));
    expect(s.ledger.account(s.worker.info.account).stake).toBe(STAKE);
  });

  describe('a lying worker is slashed, never paid, and the requester gets the pool’s answer', () => {
    const swapped = (honest: TextGenerationResult): TextGenerationResult => {
      const pieces = honest.pieces.map((p, i) => (i === 2 ? (p === 101 ? 97 : 101) : p));
      return { ...honest, pieces, text: textOf(pieces) };
    };
    const cut = (honest: TextGenerationResult, finish: 'stop' | 'length'): TextGenerationResult => ({
      ...honest,
      pieces: honest.pieces.slice(0, 8),
      text: textOf(honest.pieces.slice(0, 8)),
      finish,
    });
    const padded = (honest: TextGenerationResult, length: number): TextGenerationResult => {
      const pieces = Array.from({ length }, (_, i) => honest.pieces[i] ?? 97).map((p) => (p < 256 ? p : 97));
      return { ...honest, pieces, text: textOf(pieces), finish: 'length' };
    };
    const stoppedBy = async (signer: Signer, honest: TextGenerationResult, task: string, network?: AccountId) => ({
      ...cut(honest, 'stop'),
      finish: 'stopped' as const,
      stopProof: await signStop(signer, task, network),
    });

    it.each<[string, Lie, TaskTrustInit]>([
      // Only the forced pass can tell these: their counts are consistent.
      ['other pieces', (h) => ({ output: swapped(h) }), { recheckRate: 1 }],
      ['a cut answer claimed as ended by itself', (h) => ({ output: cut(h, 'stop') }), { recheckRate: 1 }],
      ['a cut answer claimed as out of room', (h) => ({ output: cut(h, 'length') }), { recheckRate: 1 }],
      // Counting catches these on every answer, sampled or not.
      ['inflated receipt units', (h) => ({ output: h, units: h.pieces.length + 100 }), {}],
      ['an inflated prompt count', (h) => ({ output: { ...h, promptPieces: h.promptPieces + 50 } }), {}],
      ['more pieces than the task allows', (h) => ({ output: padded(h, INPUT.maxPieces + 10) }), {}],
      [
        'a stop signed by someone else',
        async (h, t) => ({ output: await stoppedBy(signerFor('mallory'), h, t.id) }),
        {},
      ],
      ['a stop for another task', async (h, t) => ({ output: await stoppedBy(t.requester, h, 'e'.repeat(64)) }), {}],
      [
        'a stop on another network',
        async (h, t) => ({ output: await stoppedBy(t.requester, h, t.id, signerFor('other relay').accountId) }),
        {},
      ],
    ])('%s', async (_lie, lie, trust) => {
      const s = await setup(lie, trust);
      const id = await submit(s);
      const view = s.tasks.get(id);
      // Settled with the relay's own honest run, and paid for that.
      const answer = settledAnswer(s, id);
      expect(view).toMatchObject({ state: 'settled', worker: net.relay.accountId });
      expect(view.outputHash).toBe(sha256Hex(encodeTextResult(answer)) as Hash);
      expect(answer.promptPieces).toBe(PROMPT_PIECES);
      expect(view.price).toBe(priceFor(answer.pieces.length));
      expect(view.slashTxs).toHaveLength(1);
      expect(s.ledger.account(s.worker.info.account)).toMatchObject({
        balance: TEST_PARAMS.grantAmount - STAKE,
        stake: 0,
      });
      expect(s.ledger.account(s.alice.accountId).balance).toBe(TEST_PARAMS.grantAmount - view.price);
      expect(s.tasks.trustTally()).toMatchObject({ mismatches: 1, slashes: 1, slashedTokens: STAKE });
      // The pool generated the honest answer once, after one forced pass when the answer was sampled for it.
      expect(s.poolUse).toEqual({ runs: 1, checks: trust.recheckRate === 1 ? 1 : 0 });
    });
  });

  describe('canaries for text generation, judged by the forced pass', () => {
    const auditors = [signerFor('text auditor')];

    it('passes an honest worker and pays it for both tasks', async () => {
      const s = await setup(honestly, { canaryRate: 1, auditors });
      const id = await submit(s);
      expect(s.tasks.get(id)).toMatchObject({ state: 'settled', worker: s.worker.info.account });
      expect(s.tasks.trustTally()).toMatchObject({ canaries: { passed: 1, mismatch: 0 }, mismatches: 0 });
      expect(s.ledger.account(s.worker.info.account).stake).toBe(STAKE);
      // The canary needed no known answer: the worker's was judged by one forced pass.
      expect(s.poolUse).toEqual({ runs: 0, checks: 1 });
    });

    it('catches a worker that answers with other pieces, and slashes it', async () => {
      const s = await setup(
        (h) => {
          const pieces = h.pieces.map((p, i) => (i === 1 ? (p === 32 ? 101 : 32) : p));
          return { output: { ...h, pieces, text: textOf(pieces) } };
        },
        { canaryRate: 1, auditors },
      );
      const id = await submit(s);
      expect(s.tasks.get(id)).toMatchObject({ state: 'settled', worker: net.relay.accountId });
      expect(s.tasks.trustTally()).toMatchObject({ canaries: { mismatch: 1 } });
      expect(s.ledger.account(s.worker.info.account)).toMatchObject({ stake: 0 });
    });
  });

  describe('bad input is refused with a typed error before anything is escrowed', () => {
    const input = (fields: Partial<TextGenerationInput>) => textGenerationPipeline.encodeInput({ ...INPUT, ...fields });

    it.each<[string, Uint8Array, number, string]>([
      ['an empty prompt', input({ messages: [{ role: 'user', content: '  ' }] }), MAX_PRICE, 'invalid-model-input'],
      [
        'a prompt longer than the context',
        input({ messages: [{ role: 'user', content: 'a'.repeat(300) }] }),
        MAX_PRICE,
        'invalid-model-input',
      ],
      ['maxPieces 0', input({ maxPieces: 0 }), MAX_PRICE, 'invalid-model-input'],
      ['maxPieces 100000', input({ maxPieces: 100_000 }), MAX_PRICE, 'invalid-model-input'],
      ['a price below the quote', INPUT_BYTES, priceFor(INPUT.maxPieces) - 1, 'price-too-low'],
    ])('%s', async (_case, bytes, maxPrice, code) => {
      const s = await setup(undefined);
      const { bytes: task } = await signTask(s.alice, entry, bytes, { maxPrice });
      await expect(s.tasks.submit(task, bytes)).rejects.toMatchObject({ code });
      expect(s.ledger.account(s.alice.accountId).balance).toBe(TEST_PARAMS.grantAmount);
      expect(s.ledger.state.escrows.size).toBe(0);
    });
  });
});
