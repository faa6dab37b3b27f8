/**
 * What the app's end-to-end tests do with the app as a user would: open the
 * join link and wait for the onboarded home screen, run a task from the Run
 * screen, open a task to have its result verified, and count the task
 * submissions that reached the relay.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { waitForServiceWorker } from './app-browser.ts';
import type { RelayProcess } from './relay-process.ts';

/** Onboarding at `--pow-difficulty 8` and the first screens take well under this on a busy machine. */
const READY_TIMEOUT_MS = 45_000;

/**
 * Opens `url` (default the relay's join URL) in a new page, creates the
 * account on a new device, and waits until it is onboarded (the balance is
 * read) and the app's service worker controls the page.
 */
export async function openOnboardedApp(
  context: BrowserContext,
  relay: RelayProcess,
  url: string = relay.joinUrl,
): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await createAccountIfNew(page);
  await waitForBalance(page);
  await waitForServiceWorker(page);
  return page;
}

/**
 * On a device's first open, presses "Create my account" (the proof-of-work
 * and the grant wait for it); on a device already onboarded, does nothing.
 */
export async function createAccountIfNew(page: Page): Promise<void> {
  const start = page.locator('[data-testid=onboarding-start]');
  const home = page.locator('[data-testid=balance]');
  await start.or(home).first().waitFor({ timeout: READY_TIMEOUT_MS });
  if (await start.isVisible()) await start.click();
}

/** Waits until the home screen shows a balance read from the relay; returns it. */
export async function waitForBalance(page: Page): Promise<number> {
  const balance = page.locator('[data-testid=balance]:not([data-value=""])');
  await balance.waitFor({ timeout: READY_TIMEOUT_MS });
  return Number(await balance.getAttribute('data-value'));
}

/** Goes to a screen through the bottom navigation (the app's own routing, no reload). */
export async function navigateTo(page: Page, path: '/' | '/run' | '/tasks' | '/wallet' | '/contribute'): Promise<void> {
  await page.locator(`nav a[href="${path}"]`).click();
}

/** On the Run screen: picks a model by its catalogue name once the catalogue is shown. */
export async function chooseModel(page: Page, name: string): Promise<void> {
  const option = page.locator(`[data-testid=model-option][data-model="${name}"]`);
  await option.click();
  await option.locator('input:checked').waitFor();
}

/** The task id a run result links to (`/tasks/<id>`). */
export async function runResultTaskId(page: Page): Promise<string> {
  const href = await page.locator('[data-testid=run-result] a[href^="/tasks/"]').first().getAttribute('href');
  const id = /^\/tasks\/([0-9a-f]{64})$/.exec(href ?? '')?.[1];
  if (id === undefined) throw new Error(`the run result links to ${href ?? 'nothing'}, not a task`);
  return id;
}

/**
 * On the Run screen with a text model chosen: types `text`, presses "Run on
 * the network" and waits for the run to end in `expected` (`done` online,
 * `queued` offline). Returns the task's id.
 */
export async function runTextOnNetwork(
  page: Page,
  text: string,
  expected: 'done' | 'queued' = 'done',
  timeout = 30_000,
): Promise<string> {
  await page.locator('[data-testid=run-text]').fill(text);
  await page.locator('[data-testid=run-price]:not([data-value=""])').waitFor();
  // The previous run's result stays on screen until this one replaces it.
  const links = page.locator('[data-testid=run-result] a[href^="/tasks/"]');
  const previous = (await links.count()) > 0 ? await links.first().getAttribute('href') : null;
  await page.locator('[data-testid=run-network]').click();
  let result = page.locator(
    ['done', 'queued', 'failed'].map((s) => `[data-testid=run-result][data-state=${s}]`).join(', '),
  );
  if (previous !== null) result = result.filter({ hasNot: page.locator(`a[href="${previous}"]`) });
  await result.waitFor({ timeout });
  const state = await result.getAttribute('data-state');
  if (state !== expected) {
    throw new Error(`the run ended ${state ?? '?'} (${(await result.textContent())?.trim() ?? ''}), not ${expected}`);
  }
  return runResultTaskId(page);
}

/**
 * From the task list, opens a task's screen and waits for its verification
 * to end; returns `data-verified` (`true`, `false` or `error`).
 */
export async function verifyFromTaskList(page: Page, taskId: string, timeout = 45_000): Promise<string> {
  await page.locator(`[data-testid=task-row][data-task-id="${taskId}"]`).click();
  await page.locator(`[data-testid=task-detail][data-task-id="${taskId}"]`).waitFor();
  const done = page.locator('[data-testid=verification]:not([data-verified=pending])');
  await done.waitFor({ timeout });
  return (await done.getAttribute('data-verified')) ?? '';
}

/** POST /api/tasks requests the relay has answered, whatever their status, from its Prometheus metrics. */
export async function relayTaskPosts(relay: RelayProcess): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('acn_relay_http_request_duration_seconds_count{')) continue;
    if (!line.includes('method="POST"') || !line.includes('route="/api/tasks"')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** POST /api/tasks answers the browser received, by who sent the request. */
export interface TaskPostWatch {
  readonly fromPage: number;
  readonly fromServiceWorker: number;
  /** Resolves once `count` answers came, in all. */
  reached(count: number, options?: { timeout?: number }): Promise<void>;
}

/**
 * Watches every POST /api/tasks answer in `context`, from pages and from
 * service workers (Playwright sees a Chromium service worker's own requests).
 */
export function watchTaskPosts(context: BrowserContext, relay: RelayProcess): TaskPostWatch {
  const counts = { fromPage: 0, fromServiceWorker: 0 };
  const waiters: { count: number; resolve: () => void }[] = [];
  const target = `${relay.url}/api/tasks`;
  context.on('response', (response) => {
    const request = response.request();
    if (request.method() !== 'POST' || request.url() !== target) return;
    if (request.serviceWorker()) counts.fromServiceWorker++;
    else counts.fromPage++;
    const total = counts.fromPage + counts.fromServiceWorker;
    for (const waiter of waiters.filter((w) => total >= w.count)) waiter.resolve();
  });
  return {
    get fromPage() {
      return counts.fromPage;
    },
    get fromServiceWorker() {
      return counts.fromServiceWorker;
    },
    reached(count, options = {}) {
      if (counts.fromPage + counts.fromServiceWorker >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`only ${counts.fromPage + counts.fromServiceWorker} of ${count} task submissions answered`));
        }, options.timeout ?? 30_000);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

/** The ids of an account's tasks as the relay lists them. */
export async function relayTaskIds(relay: RelayProcess, account: string): Promise<string[]> {
  const response = await fetch(`${relay.url}/api/tasks?account=${account}&limit=100`);
  const body = (await response.json()) as { tasks: { id: string }[] };
  return body.tasks.map((t) => t.id);
}
