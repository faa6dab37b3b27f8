/**
 * The whole network in one test: desktop workers that are the app with
 * Contribute switched on (each its own Chromium profile), and a phone that
 * runs tasks from the Run screen or straight through the app's services
 * (`document.querySelector('acn-app').services`), reading back which way
 * each task went (`via`: a direct WebRTC connection to a worker, or the
 * relay) and where the direct connection went.
 */
import type { Page } from 'playwright-core';
import { launchAppBrowser, type AppBrowser } from './app-browser.ts';
import { navigateTo, openOnboardedApp, runResultTaskId } from './app-session.ts';
import type { RelayProcess } from './relay-process.ts';

/** One task run from the phone, as the phone saw it end. */
export interface PhoneRun {
  readonly id: string;
  /** `webrtc` (direct to the worker), `relay` (brokered, or a fallback), `brokered` (no worker offered). */
  readonly via: string;
  /** The worker's address as the direct connection saw it, or ''. */
  readonly remoteAddr: string;
  readonly worker: string;
  readonly state: string;
  readonly fallbackReason: string;
}

export interface DesktopWorker {
  readonly browser: AppBrowser;
  readonly page: Page;
  readonly account: string;
  /** Hides the tab (the worker pauses and advertises no models); resolves once the relay accepted that advert. */
  hide(): Promise<void>;
  /** Shows the tab again; resolves once the relay accepted an advert with models. */
  show(): Promise<void>;
}

/** The page counts this machine as this many cores, so the balanced preset gives one whole thread. */
const CORES = 16;

/**
 * A desktop browser (its own profile) with the app open on Contribute,
 * switched on at the balanced preset, online and advertised.
 */
export async function startDesktopWorker(relay: RelayProcess): Promise<DesktopWorker> {
  const browser = await launchAppBrowser({});
  try {
    await browser.context.addInitScript((cores) => {
      Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => cores });
    }, CORES);
    const page = await openOnboardedApp(browser.context, relay);
    await navigateTo(page, '/contribute');
    await page.locator('[data-testid=resource-preset-balanced]').check();
    await page.locator('[data-testid=contribute-switch]').check();
    const status = page.locator('[data-testid=contribute-status]');
    try {
      await page
        .locator('[data-testid=contribute-status][data-state=online][data-advert-ok=true]')
        .waitFor({ timeout: 90_000 });
    } catch (error) {
      const shown = await status.evaluate((el) => [...el.attributes].map((a) => `${a.name}=${a.value}`).join(' '));
      const problem = await page
        .locator('[data-testid=contribute-error]')
        .textContent({ timeout: 1000 })
        .catch(() => '');
      throw new Error(`the desktop worker did not come online: ${shown} ${problem ?? ''}`, { cause: error });
    }
    const account = (await status.getAttribute('data-account')) ?? '';
    const advertAfter = async (seq: number, models: (n: number) => boolean): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        const ok = await status.getAttribute('data-advert-ok');
        const at = Number(await status.getAttribute('data-advert-seq'));
        const count = Number(await status.getAttribute('data-advert-models'));
        if (ok === 'true' && at > seq && models(count)) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`worker ${account}: no accepted advert after seq ${seq}`);
    };
    const setHidden = (hidden: boolean) =>
      page.evaluate((value) => {
        Object.defineProperty(document, 'visibilityState', {
          configurable: true,
          get: () => (value ? 'hidden' : 'visible'),
        });
        document.dispatchEvent(new Event('visibilitychange'));
      }, hidden);
    return {
      browser,
      page,
      account,
      async hide() {
        const seq = Number(await status.getAttribute('data-advert-seq'));
        await setHidden(true);
        await advertAfter(seq, (n) => n === 0);
      },
      async show() {
        const seq = Number(await status.getAttribute('data-advert-seq'));
        await setHidden(false);
        await advertAfter(seq, (n) => n > 0);
      },
    };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** The account of the app open in `page`. */
export function appAccount(page: Page): Promise<string> {
  return page.evaluate(() => {
    const app = document.querySelector('acn-app') as unknown as { services?: { account: { account: string } } } | null;
    const account = app?.services?.account.account;
    if (account === undefined) throw new Error('the app has no services yet');
    return account;
  });
}

/**
 * On the Run screen with a model chosen and its input given: presses "Run on
 * the network" and waits for the result; returns the run as the screen
 * shows it (`data-via`, `data-remote-addr`).
 */
export async function runOnNetworkFromUi(
  page: Page,
  timeout = 45_000,
): Promise<{ id: string; via: string; remoteAddr: string }> {
  await page.locator('[data-testid=run-price]:not([data-value=""])').waitFor();
  const links = page.locator('[data-testid=run-result] a[href^="/tasks/"]');
  const previous = (await links.count()) > 0 ? await links.first().getAttribute('href') : null;
  await page.locator('[data-testid=run-network]').click();
  let result = page.locator('[data-testid=run-result][data-state=done], [data-testid=run-result][data-state=failed]');
  if (previous !== null) result = result.filter({ hasNot: page.locator(`a[href="${previous}"]`) });
  await result.waitFor({ timeout });
  if ((await result.getAttribute('data-state')) !== 'done') {
    throw new Error(`the run failed: ${(await result.textContent())?.trim() ?? ''}`);
  }
  return {
    id: await runResultTaskId(page),
    via: (await result.getAttribute('data-via')) ?? '',
    remoteAddr: (await result.getAttribute('data-remote-addr')) ?? '',
  };
}

/**
 * Sends tasks at once through the phone app's own services (`submit`, as the
 * Run screen does) and waits for each to end as the app sees it.
 */
export function submitFromPhone(
  page: Page,
  tasks: readonly { readonly model: string; readonly input: readonly number[]; readonly maxPrice: number }[],
): Promise<PhoneRun[]> {
  return page.evaluate(async (jobs) => {
    interface Outcome {
      kind: string;
      task?: { id: string };
      taskId?: string;
      direct?: Promise<{
        via: string;
        remoteAddr?: string;
        fallbackReason?: string;
        task: { id: string; worker?: string; state: string };
      }>;
    }
    interface Services {
      models: { catalogue(): Promise<{ models: { id: string }[] }> };
      tasks: {
        submit(entry: unknown, input: { bytes: Uint8Array; maxPrice: number }): Promise<Outcome>;
        waitForResult(id: string): Promise<{ task: { id: string; worker?: string; state: string } }>;
      };
    }
    const app = document.querySelector('acn-app') as unknown as { services?: Services } | null;
    const services = app?.services;
    if (services === undefined) throw new Error('the app has no services yet');
    const catalogue = await services.models.catalogue();
    return Promise.all(
      jobs.map(async (job) => {
        const entry = catalogue.models.find((m) => m.id === job.model);
        if (entry === undefined) throw new Error(`no model ${job.model}`);
        const outcome = await services.tasks.submit(entry, {
          bytes: Uint8Array.from(job.input),
          maxPrice: job.maxPrice,
        });
        if (outcome.kind !== 'sent' || outcome.task === undefined) throw new Error(`the task was ${outcome.kind}`);
        if (outcome.direct === undefined) {
          const result = await services.tasks.waitForResult(outcome.task.id);
          return {
            id: result.task.id,
            via: 'brokered',
            remoteAddr: '',
            worker: result.task.worker ?? '',
            state: result.task.state,
            fallbackReason: '',
          };
        }
        const result = await outcome.direct;
        return {
          id: result.task.id,
          via: result.via,
          remoteAddr: result.remoteAddr ?? '',
          worker: result.task.worker ?? '',
          state: result.task.state,
          fallbackReason: result.fallbackReason ?? '',
        };
      }),
    );
  }, tasks);
}
