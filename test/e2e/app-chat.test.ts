/**
 * The Chat screen end to end, in real headless Chromium against the real
 * relay process, with the shipped language model (kjv-byte-lm):
 *
 * - on this phone (onnxruntime-web WASM in the local inference Web Worker):
 *   the answer streams in (several text updates on screen before the end),
 *   and Stop mid-stream leaves a shorter answer that begins as the full one;
 * - on the network, through the relay's pool: the answer streams in, the
 *   phone verifies its receipt and shows "Verified" with the cost, and the
 *   balance is lower by exactly that cost;
 * - offline, once the model is on the device: the same question gets the
 *   same answer on the phone, with no network at all; a message for the
 *   network is queued in the outbox, and its answer appears in the
 *   conversation, verified, when the phone is back online.
 *
 * What the screen showed while streaming is recorded in the page itself,
 * once a frame, so no update is missed between two Playwright calls; the
 * Stop button is pressed from there too, mid-stream.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import { launchAppBrowser, type AppBrowser } from '#test/app-browser.ts';
import { openOnboardedApp } from '#test/app-session.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

let relay: RelayProcess;
let browser: AppBrowser;
let page: Page;
/** The phone's full answer to PROMPT while online, for the stopped and offline runs. */
let fullAnswer: { text: string; pieces: number } | undefined;

/** Greedy sampling: the same question always gets the same answer, on every runtime. */
const PROMPT = 'John 3:16';
const ANSWER_TIMEOUT_MS = 90_000;

beforeAll(async () => {
  await ensureAppBuiltForTests();
  relay = await startRelayProcess(['--pow-difficulty', '8', '--block-interval', '500']);
  browser = await launchAppBrowser();
  page = await openOnboardedApp(browser.context, relay);
  // Deleting a conversation asks first.
  page.on('dialog', (dialog) => void dialog.accept());
}, 300_000);

afterAll(async () => {
  await browser.close();
  await relay.stop();
  await relay.cleanup();
});

interface Watched {
  /** The distinct texts the streaming answer showed, in order. */
  readonly texts: string[];
  /** Whether Stop was pressed. */
  readonly stopped: boolean;
  /** The live pieces per second shown while it streamed. */
  readonly rates: number[];
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
    const record = { texts: [] as string[], rates: [] as number[], stopped: false, done: false };
    (window as unknown as { chatWatch: typeof record }).chatWatch = record;
    const look = (): void => {
      const answer = deep(document, '[data-testid=chat-answer]').at(-1);
      const state = answer?.getAttribute('data-state');
      if (state === 'streaming') {
        const text = answer?.querySelector('[data-testid=chat-text]')?.textContent ?? '';
        if (text !== '' && text !== record.texts.at(-1)) record.texts.push(text);
        const rate = deep(document, '[data-testid=chat-rate]')[0]?.getAttribute('data-value') ?? '';
        if (rate !== '') record.rates.push(Number(rate));
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
    return { texts: record.texts, stopped: record.stopped, rates: record.rates };
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

/** The newest answer once it is `state`; its text and data attributes. */
async function lastAnswer(
  page: Page,
  state: 'done' | 'queued' = 'done',
): Promise<{ text: string; attrs: Record<string, string> }> {
  const answer = page.locator('[data-testid=chat-answer]').last();
  await page.locator(`[data-testid=chat-answer][data-state=${state}]`).last().waitFor({ timeout: ANSWER_TIMEOUT_MS });
  await expect.poll(() => answer.getAttribute('data-state'), { timeout: ANSWER_TIMEOUT_MS }).toBe(state);
  const attrs = await answer.evaluate((element) =>
    Object.fromEntries([...element.attributes].map((a) => [a.name.replace(/^data-/, ''), a.value])),
  );
  const text = state === 'done' ? ((await answer.locator('[data-testid=chat-text]').textContent()) ?? '') : '';
  return { text, attrs };
}

async function openChat(page: Page): Promise<void> {
  await page.locator('nav a[href="/chat"]').click();
  await page.locator('[data-testid=chat-model]').waitFor({ timeout: 30_000 });
  expect(await page.locator('[data-testid=chat-model] option').allTextContents()).toEqual(['kjv-byte-lm']);
  expect(await page.locator('[data-testid=chat-model-hint]').textContent()).toMatch(/King James Bible verses/);
}

async function chooseWhere(page: Page, where: 'phone' | 'network'): Promise<void> {
  await page.locator(`[data-testid=chat-where-${where}]`).check();
}

async function newChat(page: Page): Promise<void> {
  const button = page.locator('[data-testid=chat-new]');
  if (await button.isVisible()) await button.click();
  await page.locator('[data-testid=chat-empty]').waitFor();
}

describe('the Chat screen', () => {
  it('chats on this phone: the answer streams in, and Stop mid-stream leaves a shorter one', async () => {
    // Home leads to the chat.
    await page.locator('[data-testid=home-chat]').waitFor();
    await openChat(page);
    await page.locator('[data-testid=chat-conversations-empty]').waitFor({ state: 'attached' });
    await chooseWhere(page, 'phone');
    await watchStreaming(page);
    await send(page, PROMPT);
    const full = await lastAnswer(page);
    const watched = await stopWatching(page);
    expect(full.attrs).toMatchObject({ where: 'phone' });
    expect(full.text.trim()).not.toBe('');
    expect(watched.texts.length, watched.texts.join(' | ')).toBeGreaterThanOrEqual(3);
    for (const text of watched.texts) expect(full.text.startsWith(text), text).toBe(true);
    expect(watched.texts[0]?.length).toBeLessThan(full.text.length);
    // Its speed, live, while it wrote.
    expect(watched.rates.length).toBeGreaterThan(0);
    expect(Math.min(...watched.rates)).toBeGreaterThan(0);
    expect(await page.locator('[data-testid=chat-answer]').last().textContent()).toMatch(
      /On this phone · (WASM|WebGPU)/,
    );
    fullAnswer = { text: full.text, pieces: Number(full.attrs.pieces) };
    expect(fullAnswer.pieces).toBeGreaterThan(20);

    // The same question again, stopped once a few characters are on screen.
    await newChat(page);
    await watchStreaming(page, 5);
    await send(page, PROMPT);
    const stopped = await lastAnswer(page);
    const stopWatch = await stopWatching(page);
    expect(stopWatch.stopped).toBe(true);
    expect(stopped.attrs.finish).toBe('stopped');
    expect(Number(stopped.attrs.pieces)).toBeLessThan(fullAnswer.pieces);
    expect(stopped.text.length).toBeLessThan(fullAnswer.text.length);
    expect(fullAnswer.text.startsWith(stopped.text)).toBe(true);
    await page.locator('[data-testid=chat-answer]').last().locator('[data-testid=chat-ending]').waitFor();
    expect(await page.locator('[data-testid=chat-conversations]').getAttribute('data-count')).toBe('2');
  }, 240_000);

  it('chats on the network through the relay’s pool: streamed, verified, and paid exactly its cost', async () => {
    await newChat(page);
    await chooseWhere(page, 'network');
    const balanceBefore = Number(
      await page.locator('[data-testid=chat-balance]:not([data-value=""])').getAttribute('data-value'),
    );
    await page.locator('[data-testid=chat-input]').fill(PROMPT);
    const estimate = page.locator('[data-testid=chat-estimate]:not([data-value=""])');
    const maxPrice = Number(await estimate.getAttribute('data-value'));
    expect(await estimate.textContent()).toMatch(new RegExp(`At most ${maxPrice} tokens?`));
    // A phone's slow link (about 4 kB/s down): the relay's pool writes the whole answer in a fraction of a
    // second, so on loopback it could all land within one frame; through a slow link it arrives as it
    // would on a real phone, event by event.
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: 4000,
      uploadThroughput: -1,
    });
    await watchStreaming(page);
    await send(page, PROMPT);
    const answer = await lastAnswer(page);
    const watched = await stopWatching(page);
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await cdp.detach();
    expect(answer.attrs).toMatchObject({ where: 'network', 'max-price': String(maxPrice) });
    expect(answer.attrs['task-id']).toMatch(/^[0-9a-f]{64}$/);
    // Greedy: the relay's onnxruntime-node writes what the phone's onnxruntime-web wrote.
    expect(answer.text).toBe(fullAnswer?.text);
    expect(watched.texts.length, watched.texts.join(' | ')).toBeGreaterThanOrEqual(3);
    for (const text of watched.texts) expect(answer.text.startsWith(text), text).toBe(true);
    expect(watched.texts[0]?.length).toBeLessThan(answer.text.length);

    const cost = Number(answer.attrs.price);
    expect(cost).toBeGreaterThan(0);
    expect(cost).toBeLessThanOrEqual(maxPrice);
    const last = page.locator('[data-testid=chat-answer]').last();
    await last.locator('[data-testid=chat-verification][data-value=verified]').waitFor({ timeout: 60_000 });
    expect(await last.locator('[data-testid=chat-cost]').textContent()).toMatch(new RegExp(`^Cost: ${cost} tokens?`));
    await expect
      .poll(async () => Number(await page.locator('[data-testid=chat-balance]').getAttribute('data-value')), {
        timeout: 30_000,
      })
      .toBe(balanceBefore - cost);
    // The relay agrees on the price settled.
    const task = (await (await fetch(`${relay.url}/api/tasks/${answer.attrs['task-id'] ?? ''}`)).json()) as {
      task: { state: string; price: number };
    };
    expect(task.task).toMatchObject({ state: 'settled', price: cost });
  }, 240_000);

  it('chats on this phone offline once the model is here, and queues a network message until back online', async () => {
    expect(fullAnswer).toBeDefined();
    // Only the app's own caches count: the browser's HTTP cache may be evicted any time.
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.clearBrowserCache');
    await browser.context.setOffline(true);
    await page.reload();
    // Offline, or at least the relay out of reach (loopback stays "online" to the browser).
    await page
      .locator(
        '[data-testid=connection-state][data-state=offline], [data-testid=connection-state][data-state=unreachable]',
      )
      .waitFor({ timeout: 30_000 });
    await openChat(page);
    // The conversations are still on the device.
    expect(Number(await page.locator('[data-testid=chat-conversations]').getAttribute('data-count'))).toBe(3);

    await newChat(page);
    await chooseWhere(page, 'phone');
    await send(page, PROMPT);
    const offline = await lastAnswer(page);
    expect(offline.attrs.where).toBe('phone');
    expect(offline.text).toBe(fullAnswer?.text);

    // The network is needed and absent: queued, and answered once back online.
    await chooseWhere(page, 'network');
    await send(page, 'Genesis 1:1');
    const queued = await lastAnswer(page, 'queued');
    expect(queued.attrs['task-id']).toMatch(/^[0-9a-f]{64}$/);
    await page.locator('[data-testid=chat-queued]').waitFor();
    await browser.context.setOffline(false);
    const answered = await lastAnswer(page);
    expect(answered.attrs['task-id']).toBe(queued.attrs['task-id']);
    expect(answered.text.trim()).not.toBe('');
    expect(Number(answered.attrs.price)).toBeGreaterThan(0);
    await page
      .locator('[data-testid=chat-answer]')
      .last()
      .locator('[data-testid=chat-verification][data-value=verified]')
      .waitFor({ timeout: 60_000 });
  }, 240_000);
});
