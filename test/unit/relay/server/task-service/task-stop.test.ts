/**
 * The task service's Stop, wired from its parts over a fake ledger and a
 * scripted worker (the real pool and a real Node worker are in
 * test/e2e/relay-text-stream.test.ts): the stop reaches a running
 * generation's dispatch as a `StopRequest` carrying the requester's signed
 * stop, and the worker's text reaches the task's watchers on the way; the
 * worker's shorter, stopped answer is settled for the pieces it made and the
 * stop answers with the settled task; a stop that finds the worker not yet
 * started ends the task refunded, without running it again; a running task
 * of another kind is not stoppable; and a stop from anyone but the
 * requester changes nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeEnvelope, readMessage, signEnvelope } from '#core/envelope/envelope.ts';
import { StopRequest } from '#core/generation/stop-request.ts';
import type { TaskId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { generationPrice, type ModelEntry, type TextGenerationSpec } from '#core/models/catalogue.ts';
import { quoteTask } from '#core/models/pricing.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import { textGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import { encodeTextResult } from '#core/pipelines/text-generation/result.ts';
import { readCatalogue } from '#node/models/catalogue-store.ts';
import type { LedgerService } from '#server/ledger/ledger-service.ts';
import { DispatchStoppedError } from '#server/scheduler/errors.ts';
import type { DispatchOptions, DispatchResult } from '#server/scheduler/scheduler.ts';
import { createTaskService } from '#server/task-service/task-service.ts';
import { signerFor, T0 } from '#test/network.ts';
import {
  fakeClock,
  fakeLedger,
  fakePool,
  fakeScheduler,
  fakeWorker,
  languageEntry,
  signReceipt,
  signTask,
  TEXT,
  verifier,
  type FakeScheduler,
} from '#test/task-service-fakes.ts';

const relay = signerFor('relay');
const alice = signerFor('alice');
const mallory = signerFor('mallory');
const language = languageEntry();
let model: ModelEntry;

beforeAll(async () => {
  const shipped = (await readCatalogue('dist/models')).models.find((m) => m.kind === 'text-generation');
  if (shipped === undefined) throw new Error('no text-generation model in dist/models: run npm run models');
  model = shipped;
});

/** What the scripted worker's dispatch does; it gets the dispatch's options (onText, stop). */
type Dispatch = (options: DispatchOptions) => Promise<DispatchResult>;

function setup(dispatch: Dispatch) {
  const ledger = fakeLedger(relay);
  const worker = fakeWorker('worker', model, { models: [model.id, language.id] });
  ledger.set(worker.info.account, { stake: ledger.params.minWorkerStake });
  const scheduler: FakeScheduler = fakeScheduler([worker]);
  const dispatches: DispatchOptions[] = [];
  const scripted = {
    ...scheduler,
    dispatch: (_worker: unknown, _task: Uint8Array, _input: Uint8Array, options: DispatchOptions = {}) => {
      dispatches.push(options);
      return dispatch(options);
    },
  };
  const tasks = createTaskService({
    ledger: ledger as unknown as LedgerService,
    pool: fakePool(),
    scheduler: scripted,
    catalogue: () => Promise.resolve({ v: 1, models: [model, language] }),
    signer: relay,
    verifier,
    now: fakeClock().now,
    trust: { canaryRate: 0, recheckRate: 0 },
  });
  return { ledger, tasks, dispatches };
}

const generationInput = (): Uint8Array =>
  textGenerationPipeline.encodeInput(textGenerationInput({ prompt: 'John 3:16', maxPieces: 100 }));

async function stopOf(signer: Signer, task: TaskId): Promise<Uint8Array> {
  return encodeEnvelope(await signEnvelope(signer, 'task/stop', { v: 1, net: relay.accountId, task, ts: T0 }));
}

/** Resolves when `signal` aborts, with its reason. */
function aborted(signal: AbortSignal | undefined): Promise<unknown> {
  return new Promise((resolve) => {
    signal?.addEventListener('abort', () => {
      resolve(signal.reason);
    });
  });
}

/** Waits until `check` holds (the service runs tasks after `submit` returns). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(check()).toBe(true);
}

describe('task service: stop', () => {
  it("hands a running generation's dispatch the requester's stop, and its text to the task's watchers", async () => {
    let reason: unknown;
    const { tasks, dispatches } = setup(async (options) => {
      options.onText?.(0, 'For ');
      options.onText?.(1, 'God ');
      reason = await aborted(options.stop);
      // The worker ends the generation there; its answer is not needed to see the stop reach it.
      throw new DispatchStoppedError('stopped before it made anything');
    });
    const input = generationInput();
    const { bytes, id } = await signTask(alice, model, input, { maxPrice: 30 });
    await tasks.submit(bytes, input);
    await until(() => dispatches.length === 1);
    const seen: string[] = [];
    tasks.watch(id, { text: (index, text) => seen.push(`${index}:${text}`), end: () => undefined });
    expect(seen).toEqual(['0:For ', '1:God ']);
    const stop = await stopOf(alice, id);
    await tasks.stop(id, stop);
    expect(reason).toBeInstanceOf(StopRequest);
    expect((reason as StopRequest).proof).toEqual(stop);
  });

  it('refunds a generation stopped before the worker made anything, and never runs it again', async () => {
    const { tasks, dispatches, ledger } = setup(async (options) => {
      await aborted(options.stop);
      throw new DispatchStoppedError('stopped while waiting for a slot');
    });
    const input = generationInput();
    const { bytes, id } = await signTask(alice, model, input, { maxPrice: 30 });
    await tasks.submit(bytes, input);
    await until(() => dispatches.length === 1);
    const view = await tasks.stop(id, await stopOf(alice, id));
    expect(view).toMatchObject({ state: 'refunded', error: { code: 'stopped' } });
    await tasks.idle();
    expect(dispatches).toHaveLength(1);
    expect(ledger.of('tx/settle')).toEqual([]);
    expect(ledger.of('tx/refund')).toHaveLength(1);
  });

  it("settles the stopped worker's shorter answer for the pieces it made, and answers the stop once settled", async () => {
    const input = generationInput();
    const decoded = textGenerationPipeline.decodeInput(input);
    if (!decoded.ok) throw decoded.error;
    const quote = quoteTask(model, textGenerationPipeline, decoded.value);
    if (!quote.ok || quote.value.usage === undefined) throw new Error('no quote');
    const promptPieces = quote.value.usage.promptPieces;
    const { bytes, id } = await signTask(alice, model, input, { maxPrice: 30 });
    // The same account as the fleet's worker in setup(): it signs the receipt over its stopped answer.
    const worker = fakeWorker('worker', model);
    const { tasks, ledger } = setup(async (options) => {
      options.onText?.(0, 'F');
      const reason = await aborted(options.stop);
      if (!(reason instanceof StopRequest)) throw new Error('not stopped');
      const output = encodeTextResult({
        text: 'F',
        pieces: [70],
        promptPieces,
        finish: 'stopped',
        stopProof: reason.proof,
      });
      const receiptBytes = await signReceipt(worker.signer, relay.accountId, id, model.id, output);
      const receipt = readMessage(receiptBytes, 'receipt', decodeReceiptPayload, verifier);
      if (!receipt.ok) throw receipt.error;
      return { receipt: receipt.value, receiptBytes, output, elapsedMs: 5 };
    });
    await tasks.submit(bytes, input);
    await until(() => tasks.get(id).state === 'running');
    const view = await tasks.stop(id, await stopOf(alice, id));
    const price = generationPrice(model.textGeneration as TextGenerationSpec, {
      promptPieces,
      generatedPieces: 1,
    });
    expect(view).toMatchObject({ state: 'settled', worker: worker.info.account, price });
    expect(ledger.of('tx/settle').map((call) => call.payload.price)).toEqual([price]);
  });

  it('refuses to stop a running task of another kind, and a stop from anyone but the requester', async () => {
    let release: () => void = () => undefined;
    const { tasks, dispatches } = setup(async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      throw new Error('the worker went away');
    });
    const { bytes, id } = await signTask(alice, language, TEXT);
    await tasks.submit(bytes, TEXT);
    await until(() => dispatches.length === 1);
    await expect(tasks.stop(id, await stopOf(alice, id))).rejects.toMatchObject({
      name: 'NotStoppableError',
      code: 'not-stoppable',
    });
    await expect(tasks.stop(id, await stopOf(mallory, id))).rejects.toMatchObject({ code: 'forbidden' });
    expect(tasks.get(id).state).toBe('running');
    release();
    await tasks.idle();
  });
});
