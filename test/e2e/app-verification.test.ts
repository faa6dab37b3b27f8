/**
 * The phone verifies a result as a light client: a genuine network task shows
 * "verified" with every check passed; when the relay's answers are tampered
 * with on the way (one byte of the receipt or of the output, or the Merkle
 * path of the settlement's proof), the task's screen says "not verified",
 * names the check that failed, and never shows "verified".
 *
 * Each tampered task is settled and in a block before its screen opens (the
 * SDK in Node waits for that and verifies the untouched answers: the control),
 * so the screen's verification runs once, on the tampered answers.
 */
import type { Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAccountId, parseTaskId } from '#core/identity/ids.ts';
import { unwrap } from '#core/result.ts';
import { AIComputeClient, createMemoryHeaderStore } from '#client/sdk/index.ts';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import { launchAppBrowser, type AppBrowser } from '#test/app-browser.ts';
import { chooseModel, navigateTo, openOnboardedApp, runTextOnNetwork } from '#test/app-session.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

let relay: RelayProcess;
let browser: AppBrowser;
let page: Page;
/** Tasks whose verification must have failed, for the task list's check at the end. */
const tampered: string[] = [];

beforeAll(async () => {
  await ensureAppBuiltForTests();
  relay = await startRelayProcess(['--pow-difficulty', '8']);
  browser = await launchAppBrowser();
  page = await openOnboardedApp(browser.context, relay);
}, 300_000);

afterAll(async () => {
  await browser.close();
  await relay.stop();
  await relay.cleanup();
});

/** Runs a lande-t50 task on the network from the Run screen; returns its id. */
async function runTask(text: string): Promise<string> {
  await navigateTo(page, '/run');
  await chooseModel(page, 'lande-t50');
  return runTextOnNetwork(page, text);
}

/** Waits (in Node, with the SDK) until the task is settled in a block, and checks the untouched answers verify. */
async function settledAndGenuine(id: string): Promise<void> {
  const client = new AIComputeClient({ relayUrl: relay.url, pinnedRelay: unwrap(parseAccountId(relay.relayAccount)) });
  const report = await client.verifyTask(unwrap(parseTaskId(id)), {
    headers: createMemoryHeaderStore(),
    proofWaitMs: 30_000,
  });
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  expect(report.verified).toBe(true);
}

/** Flips one bit of the middle byte of a base64url string. */
function flipMiddleByte(text: string): string {
  const bytes = Buffer.from(text, 'base64url');
  const at = bytes.length >> 1;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  return bytes.toString('base64url');
}

/** Answers `route` with the relay's real JSON answer after `tamper` (fetched from Node, never a cached 304). */
async function fulfillTampered(route: Route, tamper: (body: Record<string, unknown>) => void): Promise<void> {
  const real = await fetch(route.request().url());
  expect(real.status).toBe(200);
  const body = (await real.json()) as Record<string, unknown>;
  tamper(body);
  await route.fulfill({
    status: 200,
    contentType: 'application/json',
    headers: { 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  });
}

/** Opens the task's screen from the Run screen's link and waits for the verification to end. */
async function openVerification(): Promise<string> {
  await page.locator('[data-testid=run-verify-link]').click();
  const done = page.locator('[data-testid=verification]:not([data-verified=pending])');
  await done.waitFor({ timeout: 45_000 });
  return (await done.getAttribute('data-verified')) ?? '';
}

/** The checks shown, by name. */
async function checks(): Promise<Record<string, string>> {
  const rows = await page
    .locator('[data-testid=verification-check]')
    .evaluateAll((els) => els.map((e) => [e.getAttribute('data-check') ?? '', e.getAttribute('data-ok') ?? '']));
  return Object.fromEntries(rows) as Record<string, string>;
}

describe('verification on the phone', () => {
  it('keeps the Run screen’s model, input and result when the user leaves it and comes back', async () => {
    const text = 'Questa è una frase italiana, scritta per tornare alla stessa schermata.';
    const id = await runTask(text);
    await navigateTo(page, '/wallet');
    await page.locator('[data-testid=account-id]').waitFor();
    await navigateTo(page, '/run');
    const checked = page.locator('[data-testid=model-option]:has(input:checked)');
    await expect(checked.getAttribute('data-model')).resolves.toBe('lande-t50');
    await expect(page.locator('[data-testid=run-text]').inputValue()).resolves.toBe(text);
    await page.locator('[data-testid=run-result][data-state=done]').waitFor();
    await expect(page.locator('[data-testid=run-verify-link]').getAttribute('href')).resolves.toBe(`/tasks/${id}`);
  });

  it('shows a genuine network task verified, every check passed', async () => {
    await runTask('Ceci est une phrase tout à fait ordinaire, écrite en français.');
    expect(await openVerification()).toBe('true');
    const shown = await checks();
    expect(Object.keys(shown).sort()).toEqual(
      [
        'task-signature',
        'receipt-signature',
        'receipt-names-task',
        'output-hash',
        'header-signature',
        'header-chain',
        'settlement-included',
        'settlement-matches',
      ].sort(),
    );
    expect(Object.values(shown).every((ok) => ok === 'true')).toBe(true);
  });

  it.each([
    { field: 'receipt', failing: 'receipt-signature' },
    { field: 'output', failing: 'output-hash' },
  ])('fails when one byte of the result’s $field is changed', async ({ field, failing }) => {
    const id = await runTask(`Esta es una frase en español número ${field}, escrita para la prueba.`);
    await settledAndGenuine(id);
    let served = 0;
    await page.route(`**/api/tasks/${id}/result`, (route) =>
      fulfillTampered(route, (body) => {
        body[field] = flipMiddleByte(body[field] as string);
        served++;
      }),
    );
    expect(await openVerification()).toBe('false');
    expect(served).toBeGreaterThan(0);
    const shown = await checks();
    expect(shown[failing]).toBe('false');
    await expect(page.locator('[data-testid=verification-summary]').textContent()).resolves.toContain('Not verified');
    tampered.push(id);
  });

  it('fails when the Merkle path of the settlement’s proof is altered', async () => {
    const id = await runTask('Dies ist ein ganz gewöhnlicher deutscher Satz für den Beweis.');
    await settledAndGenuine(id);
    const view = (await (await fetch(`${relay.url}/api/tasks/${id}`)).json()) as { task: { settleTx?: string } };
    const settleTx = view.task.settleTx;
    expect(settleTx).toMatch(/^[0-9a-f]{64}$/);
    let served = 0;
    await page.route(`**/api/ledger/proof/${settleTx ?? ''}`, (route) =>
      fulfillTampered(route, (body) => {
        const proof = body.proof as { path: string[] };
        const [first] = proof.path;
        // Change one digit of the first sibling hash; a block holding only the settlement has none: add one.
        if (first === undefined) proof.path.push('00'.repeat(32));
        else proof.path[0] = (first.startsWith('0') ? '1' : '0') + first.slice(1);
        served++;
      }),
    );
    expect(await openVerification()).toBe('false');
    expect(served).toBeGreaterThan(0);
    const shown = await checks();
    expect(shown['settlement-included']).toBe('false');
    // Only the proof was touched: the signatures and the output still check out.
    expect(shown['receipt-signature']).toBe('true');
    expect(shown['output-hash']).toBe('true');
    tampered.push(id);
  });

  it('marks the tampered tasks "check failed" in the task list', async () => {
    expect(tampered).toHaveLength(3);
    await navigateTo(page, '/tasks');
    for (const id of tampered) {
      await page.locator(`[data-testid=task-row][data-task-id="${id}"][data-verified=failed]`).waitFor();
    }
  });
});
