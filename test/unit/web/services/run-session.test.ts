/**
 * The Run screen's state in real Chromium: the session chooses a model,
 * prepares the input and its price, and runs it on the phone or the network
 * through fake collaborators (no relay, no onnxruntime), passing through each
 * state; and the Run screen, removed by the app's routing and made again,
 * shows the same model, input and result, because they live in the session.
 */
import { ContextProvider } from '@lit/context';
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskId } from '#core/identity/ids.ts';
import { decodeCatalogue, type ModelEntry } from '#core/models/catalogue.ts';
import { languageIdPipeline } from '#core/pipelines/language-id/pipeline.ts';
import type { TaskResult, TaskView } from '#core/api/responses.ts';
import { initialStatus, modelsContext, runContext, statusContext } from '#web/services/app-context.ts';
import type { LocalRunResult } from '#web/inference/run-locally.ts';
import type { ModelService } from '#web/services/model-service.ts';
import { createRunSession, type RunSession, type RunSessionInit, type RunState } from '#web/services/run-session.ts';
import type { SubmitOutcome } from '#web/services/task-service.ts';

const TASK = 'b'.repeat(64) as TaskId;
const FRENCH = languageIdPipeline.encodeOutput({ label: 'fra', confidence: 0.97, top: [{ label: 'fra', p: 0.97 }] });

async function catalogue(): Promise<ModelEntry[]> {
  const decoded = decodeCatalogue(await (await fetch('/dist/models/catalogue.json')).json());
  if (!decoded.ok) throw decoded.error;
  return decoded.value.models;
}

function byPre(models: readonly ModelEntry[], pre: string): ModelEntry {
  const found = models.find((m) => m.pre === pre);
  if (!found) throw new Error(`no ${pre} model in the catalogue`);
  return found;
}

function taskView(entry: ModelEntry): TaskView {
  return {
    id: TASK,
    model: entry.id,
    state: 'settled',
    price: 1,
    maxPrice: 1,
    units: 1,
    submittedAt: 1000,
    finishedAt: 1250,
  } as unknown as TaskView;
}

/** A session over fakes; `runs` records the states it passed through. */
function fakeSession(overrides: Partial<RunSessionInit> = {}): { session: RunSession; runs: RunState['kind'][] } {
  const session = createRunSession({
    models: {
      runLocally: () => Promise.resolve({ output: FRENCH, backend: 'wasm', ms: 12, loadMs: 3 } as LocalRunResult),
    },
    tasks: {
      submit: (entry) => Promise.resolve<SubmitOutcome>({ kind: 'sent', task: taskView(entry) }),
      waitForResult: () => Promise.reject(new Error('no result in this test')),
      cancel: (id) => Promise.resolve({ id } as unknown as TaskView),
      notifyResult: () => Promise.resolve(),
    },
    isHidden: () => false,
    objectUrls: { create: () => 'blob:picture', revoke: () => undefined },
    ...overrides,
  });
  const runs: RunState['kind'][] = [];
  session.subscribe((state) => {
    if (runs.at(-1) !== state.run.kind) runs.push(state.run.kind);
  });
  return { session, runs };
}

describe('run session', () => {
  it('chooses the first model it can build input for, and keeps a choice the user made', async () => {
    const models = await catalogue();
    const { session } = fakeSession();
    session.offer(models);
    const first = session.state.entry;
    expect(first).toBeDefined();
    const kmeans = byPre(models, 'kmeans');
    session.select(kmeans);
    session.offer(models);
    expect(session.state.entry?.id).toBe(kmeans.id);
    // A table model starts from its example table, ready to price.
    expect(session.state.inputs.tableText).not.toBe('');
    expect(session.state.prepared?.maxPrice).toBeGreaterThan(0);
  });

  it('says what to fix until the input is there, then prices it', async () => {
    const { session } = fakeSession();
    session.select(byPre(await catalogue(), 'language-id'));
    expect(session.state.prepared).toBeUndefined();
    expect(session.state.inputError).toBe('Type or paste some text.');
    session.setText('Ceci est une phrase.');
    expect(session.state.inputError).toBeUndefined();
    expect(session.state.prepared?.maxPrice).toBeGreaterThan(0);
  });

  it('runs on the phone: loading, the paced download, then the result', async () => {
    let clock = 0;
    const { session, runs } = fakeSession({
      now: () => clock,
      models: {
        runLocally: (_entry, _bytes, options) => {
          const report = (loaded: number): void => {
            options?.onDownloadProgress?.({ hash: 'h' as never, loaded, total: 100, bytesPerSecond: 1 });
          };
          report(10);
          clock += 10;
          report(20); // 10 ms later: not shown
          clock += 200;
          report(50);
          report(100); // finished: always shown
          return Promise.resolve({ output: FRENCH, backend: 'webgpu', ms: 7, loadMs: 1 } as LocalRunResult);
        },
      },
    });
    const shown: number[] = [];
    session.subscribe((state) => {
      if (state.run.kind === 'local' && state.run.download) shown.push(state.run.download.loaded);
    });
    session.select(byPre(await catalogue(), 'language-id'));
    session.setText('Ceci est une phrase.');
    await session.runOnPhone();
    expect(shown).toEqual([10, 50, 100]);
    expect(runs).toEqual(['idle', 'local', 'done']);
    const run = session.state.run;
    expect(run.kind === 'done' && [run.where, run.backend, run.ms]).toEqual(['phone', 'WebGPU', 7]);
    expect(run.kind === 'done' && run.view.kind).toBe('classification');
  });

  it('runs on the network: sending, waiting, then the result with the way it went', async () => {
    const language = byPre(await catalogue(), 'language-id');
    const { session, runs } = fakeSession({
      tasks: {
        submit: (entry) => Promise.resolve<SubmitOutcome>({ kind: 'sent', task: taskView(entry) }),
        waitForResult: (id) => Promise.resolve({ task: { ...taskView(language), id }, output: FRENCH } as TaskResult),
        cancel: (id) => Promise.resolve({ id } as unknown as TaskView),
        notifyResult: () => Promise.resolve(),
      },
    });
    session.select(language);
    session.setText('Ceci est une phrase.');
    const waiting: (TaskId | undefined)[] = [];
    session.subscribe((state) => {
      if (state.run.kind === 'network') waiting.push(state.run.taskId);
    });
    await session.runOnNetwork();
    expect(runs).toEqual(['idle', 'network', 'done']);
    expect(waiting).toEqual([undefined, TASK]);
    const run = session.state.run;
    expect(run.kind === 'done' && [run.where, run.via, run.taskId, run.ms]).toEqual(['network', 'relay', TASK, 250]);
  });

  it('is queued when the task went to the outbox, and fails with the error’s code', async () => {
    const language = byPre(await catalogue(), 'language-id');
    const queued = fakeSession({
      tasks: {
        submit: () => Promise.resolve<SubmitOutcome>({ kind: 'queued', taskId: TASK }),
        waitForResult: () => Promise.reject(new Error('unused')),
        cancel: () => Promise.reject(new Error('unused')),
        notifyResult: () => Promise.resolve(),
      },
    }).session;
    queued.select(language);
    queued.setText('Ceci est une phrase.');
    await queued.runOnNetwork();
    expect(queued.state.run).toEqual({ kind: 'queued', taskId: TASK });

    const failing = fakeSession({
      models: {
        runLocally: () => Promise.reject(Object.assign(new Error('offline'), { code: 'model-unreachable' })),
      },
    }).session;
    failing.select(language);
    failing.setText('Ceci est une phrase.');
    await failing.runOnPhone();
    const run = failing.state.run;
    expect(run.kind === 'failed' && run.error.code).toBe('model-unreachable');
  });

  it('cancels a task waiting on the relay, and a new model clears the result', async () => {
    const cancelled: TaskId[] = [];
    let release: (() => void) | undefined;
    const { session } = fakeSession({
      tasks: {
        submit: (entry) => Promise.resolve<SubmitOutcome>({ kind: 'sent', task: taskView(entry) }),
        waitForResult: (_id, options) =>
          new Promise((_resolve, reject) => {
            release = () => {
              reject(new Error('released'));
            };
            options?.signal?.addEventListener('abort', () => {
              reject(new Error('aborted'));
            });
          }),
        cancel: (id) => {
          cancelled.push(id);
          return Promise.resolve({ id } as unknown as TaskView);
        },
        notifyResult: () => Promise.resolve(),
      },
    });
    const all = await catalogue();
    session.select(byPre(all, 'language-id'));
    session.setText('Ceci est une phrase.');
    const running = session.runOnNetwork();
    await waitFor(() => session.state.run.kind === 'network' && session.state.run.phase === 'waiting');
    await session.cancel();
    await running;
    release?.();
    expect(cancelled).toEqual([TASK]);
    expect(session.state.run.kind).toBe('idle');

    await session.runOnPhone();
    expect(session.state.run.kind).toBe('done');
    session.select(byPre(all, 'kmeans'));
    expect(session.state.run.kind).toBe('idle');
    // The text given before is still there for when the text model is chosen again.
    expect(session.state.inputs.text).toBe('Ceci est une phrase.');
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  await expect.poll(condition).toBe(true);
}

// The Run screen and its components are loaded by URL: the test project's typecheck does not compile the app's decorators.
const PAGE_RUN = '../../../../web/pages/page-run.ts';
await import(/* @vite-ignore */ PAGE_RUN);

type Updatable = HTMLElement & { updateComplete: Promise<boolean> };

describe('page-run', () => {
  afterEach(() => {
    document.body.replaceChildren();
  });

  /** The app shell's part: the contexts page-run consumes, on a parent element. */
  function shell(session: RunSession, all: readonly ModelEntry[]): HTMLElement {
    const host = document.createElement('div');
    const fakeModels: Pick<ModelService, 'catalogue'> = {
      catalogue: () => Promise.resolve({ version: 1, models: all } as never),
    };
    new ContextProvider(host, { context: runContext, initialValue: session });
    new ContextProvider(host, { context: modelsContext, initialValue: fakeModels as ModelService });
    new ContextProvider(host, { context: statusContext, initialValue: { ...initialStatus(true), balance: 1000 } });
    document.body.append(host);
    return host;
  }

  async function mountPage(host: HTMLElement): Promise<ShadowRoot> {
    const page = document.createElement('page-run') as Updatable;
    host.append(page);
    const root = page.shadowRoot;
    if (!root) throw new Error('page-run has no shadow root');
    await waitFor(() => root.querySelector('acn-model-picker') !== null);
    await page.updateComplete;
    return root;
  }

  /** The first element matching `selector`, looking into the components' shadow roots. */
  function deep(root: ShadowRoot | Element, selector: string): Element | null {
    const found = root.querySelector(selector);
    if (found) return found;
    for (const el of root.querySelectorAll('*')) {
      const inner = el.shadowRoot ? deep(el.shadowRoot, selector) : null;
      if (inner) return inner;
    }
    return null;
  }

  it('shows the same model, input and result after being removed and made again', async () => {
    const all = await catalogue();
    const language = byPre(all, 'language-id');
    const { session } = fakeSession();
    const host = shell(session, all);
    let root = await mountPage(host);

    const option = deep(root, `[data-testid=model-option][data-model="${language.name}"] input`) as HTMLInputElement;
    option.click();
    await waitFor(() => deep(root, '[data-testid=run-text]') !== null);
    const text = deep(root, '[data-testid=run-text]') as HTMLTextAreaElement;
    text.value = 'Ceci est une phrase tout à fait ordinaire.';
    text.dispatchEvent(new Event('input', { bubbles: true, composed: true }));
    await waitFor(() => deep(root, '[data-testid=run-price]')?.getAttribute('data-value') !== '');
    (deep(root, '[data-testid=run-local]') as HTMLButtonElement).click();
    await waitFor(() => deep(root, '[data-testid=run-result][data-state=done]') !== null);

    // Away to another screen and back: the routing removes the element and makes a new one.
    host.replaceChildren();
    root = await mountPage(host);
    await waitFor(() => deep(root, '[data-testid=run-result][data-state=done]') !== null);
    const checked = deep(root, '[data-testid=model-option] input:checked')?.closest('[data-testid=model-option]');
    expect(checked?.getAttribute('data-model')).toBe(language.name);
    expect((deep(root, '[data-testid=run-text]') as HTMLTextAreaElement).value).toBe(
      'Ceci est une phrase tout à fait ordinaire.',
    );
    expect(deep(root, '[data-testid=run-result]')?.getAttribute('data-where')).toBe('phone');
    expect(deep(root, '[data-testid=output-label]')?.textContent).toContain('French');
  });
});
