/**
 * The Chat screen on the network's interactive path, end to end: real
 * headless Chromium running the app, the real relay process and a real
 * staked desktop worker (`npm run worker`: the Node worker process, offering
 * the shipped language model kjv-byte-lm and listening on WebRTC through the
 * relay).
 *
 * The phone chats "On the network"; the relay offers the direct path to the
 * worker, the phone dials it over WebRTC and reads the answer's pieces as the
 * worker makes them (its text frames, not the relay's event stream). The
 * answer shows on screen as it comes, then "✓ Verified" and its cost; the
 * phone's balance falls by exactly that cost and the worker's rises by it
 * less the relay's fee (no canaries nor re-checks, so nothing else moves
 * them). Stop pressed once the first pieces are on screen goes to the worker
 * on the same stream: the answer is shorter, marked stopped, and costs only
 * the catalogue's price of the pieces read and made.
 *
 * What the screen showed while streaming is recorded in the page itself,
 * once a frame, so no update is missed between two Playwright calls; the
 * Stop button is pressed from there too, mid-stream.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url } from '#core/encoding/bytes.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import { generationPrice, type Catalogue, type ModelEntry, type TextGenerationSpec } from '#core/models/catalogue.ts';
import { decodeTextResult, type TextGenerationResult } from '#core/pipelines/text-generation/result.ts';
import { unwrap } from '#core/result.ts';
import { launchAppBrowser, type AppBrowser } from '#test/app-browser.ts';
import { openOnboardedApp } from '#test/app-session.ts';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import { relayApi, type RelayApi } from '#test/relay-api.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { startWorkerProcess, type WorkerProcess } from '#test/worker-process.ts';

/** A quarter: the answers here cost a few tokens, and a tenth of that would round down to no fee at all. */
const FEE_BPS = 2500;
const STAKE = 100;
/**
 * A reference the model continues for its whole context (more than the
 * chat's longest answer): the answer runs long enough for Stop to land in
 * the middle, and greedy sampling makes the stopped answer the start of the
 * full one.
 */
const PROMPT = 'Genesis 1:1';
const ANSWER_TIMEOUT_MS = 90_000;

let relay: RelayProcess;
let api: RelayApi;
let workerDir: string;
let worker: WorkerProcess;
let workerAccount: AccountId;
let model: ModelEntry;
let spec: TextGenerationSpec;
let browser: AppBrowser;
let page: Page;
/** The full answer to PROMPT, for the stopped one. */
let fullAnswer: { text: string; pieces: number } | undefined;

beforeAll(async () => {
  await ensureAppBuiltForTests();
  workerDir = await mkdtemp(join(tmpdir(), 'acn-worker-'));
  relay = await startRelayProcess([
    '--pow-difficulty',
    '8',
    '--min-worker-stake',
    String(STAKE),
    '--fee-bps',
    String(FEE_BPS),
    '--block-interval',
    '200',
    // Known-answer canaries and re-checks would move the balances by tasks this test did not send.
    '--canary-rate',
    '0',
    '--recheck-rate',
    '0',
  ]);
  api = relayApi(() => relay.url);
  const catalogue = (await api('/api/models')).body as unknown as Catalogue;
  const entry = catalogue.models.find((m) => m.name === 'kjv-byte-lm');
  if (entry?.textGeneration === undefined) throw new Error('the relay has no kjv-byte-lm: run npm run models');
  model = entry;
  spec = entry.textGeneration;

  worker = startWorkerProcess([
    '--relay',
    relay.url,
    '--data-dir',
    workerDir,
    '--stake',
    String(STAKE),
    '--models',
    model.name,
    // Counted as a big desktop: the balanced preset then rests only briefly between tasks, so the second chat
    // finds it free (on this 2-core machine it would rest long and could refuse the task as busy).
    '--cores',
    '16',
  ]);
  const created = await worker.waitFor(/ key created /);
  workerAccount = /account=(\S+)/.exec(created)?.[1] as AccountId;
  // Advertised with its WebRTC address: the relay offers it on the direct path.
  await worker.waitFor(/ advert accepted .*webrtc=[1-9]/, { timeoutMs: 60_000 });

  browser = await launchAppBrowser();
  page = await openOnboardedApp(browser.context, relay);
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may fail before these exist
  await browser?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  await worker?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  if (relay !== undefined) {
    await relay.stop();
    await relay.cleanup();
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  if (workerDir !== undefined) await rm(workerDir, { recursive: true, force: true });
}, 60_000);

const balanceOf = async (account: AccountId): Promise<number> =>
  (await api(`/api/ledger/balance/${account}`)).body.balance as number;

interface TaskView {
  readonly id: TaskId;
  readonly requester: AccountId;
  readonly state: string;
  readonly worker: AccountId | undefined;
  readonly price: number;
  readonly maxPrice: number;
}

/** The relay's view of task `id` and its settled output. */
async function settled(id: string): Promise<{ task: TaskView; output: TextGenerationResult }> {
  const { status, body } = await api(`/api/tasks/${id}/result`);
  expect(status).toBe(200);
  return {
    task: body.task as TaskView,
    output: unwrap(decodeTextResult(fromBase64Url(body.output as string))),
  };
}

interface Watched {
  /** The distinct texts the streaming answer showed, in order. */
  readonly texts: string[];
  /** Whether Stop was pressed. */
  readonly stopped: boolean;
}

/**
 * Starts recording, once a frame, the text of the newest answer while it
 * streams; with `stopAt`, presses Stop once it shows that many characters.
 */
async function watchStreaming(page: Page, stopAt?: number): Promise<void> {
  await page.evaluate((stopAt) => {
    const deep = (root: ParentNode, selector: string): Element[] => {
      const found = [...root.querySelectorAll(selector)];
      for (const element of root.querySelectorAll('*')) {
        if (element.shadowRoot) found.push(...deep(element.shadowRoot, selector));
      }
      return found;
    };
    const record = { texts: [] as string[], stopped: false, done: false };
    (window as unknown as { chatWatch: typeof record }).chatWatch = record;
    const look = (): void => {
      const answer = deep(document, '[data-testid=chat-answer]').at(-1);
      if (answer?.getAttribute('data-state') === 'streaming') {
        const text = answer.querySelector('[data-testid=chat-text]')?.textContent ?? '';
        if (text !== '' && text !== record.texts.at(-1)) record.texts.push(text);
        if (stopAt !== undefined && !record.stopped && text.length >= stopAt) {
          const stop = deep(document, '[data-testid=chat-stop]')[0] as HTMLButtonElement | undefined;
          if (stop) {
            stop.click();
            record.stopped = true;
          }
        }
      }
      if (!record.done) requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
  }, stopAt);
}

async function stopWatching(page: Page): Promise<Watched> {
  return page.evaluate(() => {
    const record = (window as unknown as { chatWatch: Watched & { done: boolean } }).chatWatch;
    record.done = true;
    return { texts: record.texts, stopped: record.stopped };
  });
}

/** Types `text` and sends it; resolves once a new answer has appeared. */
async function send(page: Page, text: string): Promise<void> {
  const before = await page.locator('[data-testid=chat-answer]').count();
  await page.locator('[data-testid=chat-input]').fill(text);
  await page.locator('[data-testid=chat-estimate]').filter({ hasNotText: 'Type a message' }).waitFor();
  await page.locator('[data-testid=chat-send]').click();
  await expect.poll(() => page.locator('[data-testid=chat-answer]').count()).toBe(before + 1);
}

/** The newest answer once done: its text, the line of facts under it, and its data attributes. */
async function lastAnswer(page: Page): Promise<{ text: string; facts: string; attrs: Record<string, string> }> {
  const answer = page.locator('[data-testid=chat-answer]').last();
  await expect.poll(() => answer.getAttribute('data-state'), { timeout: ANSWER_TIMEOUT_MS }).toBe('done');
  const attrs = await answer.evaluate((element) =>
    Object.fromEntries([...element.attributes].map((a) => [a.name.replace(/^data-/, ''), a.value])),
  );
  const text = (await answer.locator('[data-testid=chat-text]').textContent()) ?? '';
  const facts = (await answer.locator('.facts').textContent()) ?? '';
  return { text, facts: facts.replace(/\s+/g, ' ').trim(), attrs };
}

/** The balance the Chat screen shows, once read. */
async function shownBalance(page: Page): Promise<number> {
  return Number(await page.locator('[data-testid=chat-balance]:not([data-value=""])').getAttribute('data-value'));
}

/** Waits until the newest answer's receipt is verified on the phone, and checks the cost it shows. */
async function expectVerified(page: Page, cost: number): Promise<void> {
  const last = page.locator('[data-testid=chat-answer]').last();
  await last.locator('[data-testid=chat-verification][data-value=verified]').waitFor({ timeout: 60_000 });
  expect(await last.locator('[data-testid=chat-verification]').textContent()).toMatch(/✓ Verified/);
  expect(await last.locator('[data-testid=chat-cost]').textContent()).toMatch(new RegExp(`^Cost: ${cost} tokens?\\b`));
}

describe('the Chat screen on the direct path', () => {
  it('chats on the network through a desktop worker over WebRTC: streamed, verified, and paid exactly', async () => {
    await page.locator('nav a[href="/chat"]').click();
    await page.locator('[data-testid=chat-model]').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-testid=chat-model] option').allTextContents()).toEqual([model.name]);
    await page.locator('[data-testid=chat-where-network]').check();
    const shownBefore = await shownBalance(page);
    const workerBefore = await balanceOf(workerAccount);
    const relayBefore = await balanceOf(relay.relayAccount as AccountId);

    await page.locator('[data-testid=chat-input]').fill(PROMPT);
    const estimate = page.locator('[data-testid=chat-estimate]:not([data-value=""])');
    const maxPrice = Number(await estimate.getAttribute('data-value'));
    await watchStreaming(page);
    await send(page, PROMPT);
    const answer = await lastAnswer(page);
    const watched = await stopWatching(page);

    // It went over WebRTC to the worker: the screen says so, and the relay's task names the worker.
    expect(answer.attrs).toMatchObject({ where: 'network', 'max-price': String(maxPrice) });
    expect(answer.facts).toMatch(/On the network · via WebRTC/);
    const id = answer.attrs['task-id'] ?? '';
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const { task, output } = await settled(id);
    expect(task).toMatchObject({ state: 'settled', worker: workerAccount, maxPrice });
    await worker.waitFor(new RegExp(`task done id=${id} `));

    // Streamed: several updates on screen before the end, each the start of the answer.
    expect(watched.texts.length, watched.texts.join(' | ')).toBeGreaterThanOrEqual(3);
    for (const text of watched.texts) expect(answer.text.startsWith(text), text).toBe(true);
    expect(watched.texts[0]?.length).toBeLessThan(answer.text.length);
    expect(answer.text).toBe(output.text);
    expect(Number(answer.attrs.pieces)).toBe(output.pieces.length);
    expect(answer.attrs.finish).not.toBe('stopped');

    // Its cost is the catalogue's price of the pieces read and written, and it is what was paid.
    const cost = Number(answer.attrs.price);
    expect(cost).toBe(
      generationPrice(spec, { promptPieces: output.promptPieces, generatedPieces: output.pieces.length }),
    );
    expect(cost).toBe(task.price);
    expect(cost).toBeGreaterThan(0);
    expect(cost).toBeLessThanOrEqual(maxPrice);
    await expectVerified(page, cost);
    await expect.poll(() => shownBalance(page), { timeout: 30_000 }).toBe(shownBefore - cost);
    expect(await balanceOf(task.requester)).toBe(shownBefore - cost);
    const fee = Math.floor((cost * FEE_BPS) / 10_000);
    expect(await balanceOf(workerAccount)).toBe(workerBefore + cost - fee);
    expect(await balanceOf(relay.relayAccount as AccountId)).toBe(relayBefore + fee);
    fullAnswer = { text: answer.text, pieces: output.pieces.length };
  }, 240_000);

  it('Stop mid-stream on the direct path pays only for the pieces that were made', async () => {
    expect(fullAnswer).toBeDefined();
    // A Stop races the worker: a whole answer takes about 300 ms here, and a Stop pressed when the first
    // characters show can reach the worker after the end when the machine is loaded. Such an answer is
    // simply paid in full; the test tries again (at most 3 times) until a Stop lands mid-stream.
    let stoppedOnce = false;
    for (let attempt = 0; attempt < 3 && !stoppedOnce; attempt++) {
      await page.locator('[data-testid=chat-new]').click();
      await page.locator('[data-testid=chat-empty]').waitFor();
      const shownBefore = await shownBalance(page);
      const workerBefore = await balanceOf(workerAccount);
      const relayBefore = await balanceOf(relay.relayAccount as AccountId);

      await page.locator('[data-testid=chat-input]').fill(PROMPT);
      const maxPrice = Number(
        await page.locator('[data-testid=chat-estimate]:not([data-value=""])').getAttribute('data-value'),
      );
      // Stop once the first few characters are on screen.
      await watchStreaming(page, 3);
      await send(page, PROMPT);
      const answer = await lastAnswer(page);
      const watched = await stopWatching(page);
      expect(watched.stopped).toBe(true);

      expect(answer.facts).toMatch(/On the network · via WebRTC/);
      const { task, output } = await settled(answer.attrs['task-id'] ?? '');
      expect(task).toMatchObject({ state: 'settled', worker: workerAccount, maxPrice });
      expect(answer.text).toBe(output.text);
      expect(answer.attrs.finish).toBe(output.finish);
      stoppedOnce = output.finish === 'stopped';
      if (stoppedOnce) {
        await page.locator('[data-testid=chat-answer]').last().locator('[data-testid=chat-ending]').waitFor();
        expect(answer.facts).toMatch(/Stopped/);
        // Shorter, and the start of the full answer (greedy: the same question gets the same answer).
        expect(output.pieces.length).toBeLessThan(fullAnswer?.pieces ?? 0);
        expect(answer.text.length).toBeLessThan(fullAnswer?.text.length ?? 0);
        expect(fullAnswer?.text.startsWith(answer.text)).toBe(true);
      } else {
        expect(answer.text).toBe(fullAnswer?.text);
      }

      // Only the pieces made are paid: 5 tokens per 1,000 read, 20 per 1,000 written, rounded up.
      const cost = Number(answer.attrs.price);
      const expected = Math.max(
        1,
        Math.ceil(
          (output.promptPieces * spec.price.perThousandPrompt +
            output.pieces.length * spec.price.perThousandGenerated) /
            1000,
        ),
      );
      expect(spec.price).toEqual({ perThousandPrompt: 5, perThousandGenerated: 20 });
      expect(cost).toBe(expected);
      expect(cost).toBe(task.price);
      if (stoppedOnce) expect(cost).toBeLessThan(maxPrice);
      await expectVerified(page, cost);
      await expect.poll(() => shownBalance(page), { timeout: 30_000 }).toBe(shownBefore - cost);
      expect(await balanceOf(task.requester)).toBe(shownBefore - cost);
      const fee = Math.floor((cost * FEE_BPS) / 10_000);
      expect(await balanceOf(workerAccount)).toBe(workerBefore + cost - fee);
      expect(await balanceOf(relay.relayAccount as AccountId)).toBe(relayBefore + fee);
    }
    expect(stoppedOnce).toBe(true);
  }, 240_000);
});
