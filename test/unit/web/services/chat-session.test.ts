/**
 * The Chat screen's logic in real Chromium: which models can chat, a
 * conversation turned into a priced text-generation task (the oldest
 * messages left out to fit the model's context), the words the screen uses
 * (pieces for what the model reads and writes, tokens for money), and the
 * chat session over real IndexedDB:
 *
 * - on this phone, with the real local inference Web Worker and the shipped
 *   model: the answer streams in (several text updates before the end), is
 *   kept on the device, and Stop leaves a shorter answer that begins as the
 *   full one;
 * - on the network, through a stand-in for the task service (no relay in
 *   this tier; the end-to-end tests run the real one): an answer streamed,
 *   settled and verified, one queued offline and filled in once the outbox
 *   delivered it, and a stopped one paid for what it wrote;
 * - conversations bounded, opened, deleted; and the Chat screen itself
 *   showing the estimate, the streamed text and the answer's facts.
 */
import { ContextProvider } from '@lit/context';
import { deleteDB } from 'idb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TaskId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { quoteTask } from '#core/models/pricing.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import type { TaskView } from '#core/api/responses.ts';
import type { VerificationReport } from '#client/sdk/verify-result.ts';
import { openAcnDb, type AcnDb } from '#browser-storage/db.ts';
import { listConversations } from '#browser-storage/conversations.ts';
import type { OutboxChange, OutboxEntry } from '#browser-storage/outbox/outbox.ts';
import { runLocally } from '#web/inference/run-locally.ts';
import { chatContext, initialStatus, modelsContext, statusContext } from '#web/services/app-context.ts';
import {
  ANSWER_PIECES,
  chatModels,
  chatRequest,
  conversationTitle,
  examplePrompts,
  modelHint,
  priceText,
  type ChatRequest,
} from '#web/services/chat-prompt.ts';
import { createChatSession, type ChatSession, type ChatSessionInit } from '#web/services/chat-session.ts';
import { answerFacts, estimateOf, liveLabel } from '#web/services/chat-view.ts';
import type { ModelService } from '#web/services/model-service.ts';
import type { SubmitOutcome } from '#web/services/task-service.ts';
import { loadCatalogue, modelOfKind } from '#test/models.ts';

const TASK = 'c'.repeat(64) as TaskId;
const paths = {
  relayUrl: location.origin,
  modelBaseUrl: '/dist/models/',
  ortBaseUrl: '/node_modules/onnxruntime-web/dist/',
} as const;
const HEAVY_TEST_MS = 180_000;

let model: ModelEntry;
let catalogue: readonly ModelEntry[];

beforeAll(async () => {
  model = await modelOfKind('text-generation');
  catalogue = (await loadCatalogue()).models;
});

const dbNames = new Set<string>();
const sessions: ChatSession[] = [];
const dbs: AcnDb[] = [];

afterEach(async () => {
  for (const session of sessions.splice(0)) session.stop();
  for (const db of dbs.splice(0)) db.close();
  for (const name of dbNames) await deleteDB(name);
  dbNames.clear();
  document.body.replaceChildren();
});

async function freshDb(): Promise<AcnDb> {
  const name = `chat-test-${crypto.randomUUID()}`;
  dbNames.add(name);
  const db = await openAcnDb({ name });
  dbs.push(db);
  return db;
}

function request(draft: string, history: Parameters<typeof chatRequest>[1] = []): ChatRequest {
  const made = chatRequest(model, history, draft);
  if (typeof made === 'string') throw new Error(made);
  return made;
}

/** Every "N tokens" amount in a text: what it says costs money. */
function tokenAmounts(text: string): number[] {
  return [...text.matchAll(/(\d[\d,]*) tokens?\b/g)].map((m) => Number((m[1] ?? '').replace(/,/g, '')));
}

describe('chat rules', () => {
  it('offers the language models only, with a one-line hint and example prompts', () => {
    const offered = chatModels(catalogue);
    expect(offered.map((m) => m.kind)).toEqual(offered.map(() => 'text-generation'));
    expect(offered).toContain(model);
    expect(catalogue.length).toBeGreaterThan(offered.length);
    const hint = modelHint(model);
    expect(hint).not.toContain('\n');
    expect(hint.length).toBeLessThan(model.description.length);
    expect(hint).toMatch(/continues King James Bible verses\.$/);
    expect(examplePrompts(model)).toContain('John 3:16');
    expect(priceText(model)).toBe('5 tokens per 1,000 pieces read, 20 per 1,000 written');
  });

  it('prices a message as the relay will: the prompt and the longest answer', () => {
    const made = request('John 3:16');
    const decoded = textGenerationPipeline.decodeInput(made.bytes);
    if (!decoded.ok) throw decoded.error;
    const quote = quoteTask(model, textGenerationPipeline, decoded.value);
    if (!quote.ok) throw quote.error;
    expect(made.maxPrice).toBe(quote.value.price);
    expect(made.promptPieces).toBe(quote.value.usage?.promptPieces);
    expect(made.maxPieces).toBe(ANSWER_PIECES);
    expect(decoded.value.messages).toEqual([{ role: 'user', content: 'John 3:16' }]);
    expect(chatRequest(model, [], '   ')).toBe('Type a message.');
    const tooLong = chatRequest(model, [], 'x'.repeat(400));
    expect(typeof tooLong === 'string' && tooLong).toMatch(/too long.*pieces.*part of a word/);
    expect(typeof tooLong === 'string' && tooLong).not.toMatch(/token/);
  });

  it('leaves the oldest messages out of the prompt when the conversation outgrows the context', () => {
    const spec = model.textGeneration;
    if (!spec) throw new Error('no textGeneration section');
    const history = Array.from({ length: 12 }, (_, i) => ({
      role: i % 2 === 0 ? ('user' as const) : ('assistant' as const),
      text: `message number ${i} ${'with some words '.repeat(2)}`,
    }));
    const made = request('Psalms 23:1', history);
    expect(made.leftOut).toBeGreaterThan(0);
    expect(made.promptPieces + 32).toBeLessThanOrEqual(spec.contextLength);
    expect(made.input.messages?.at(-1)).toEqual({ role: 'user', content: 'Psalms 23:1' });
    expect(made.input.messages).toHaveLength(history.length + 1 - made.leftOut);
    expect(made.maxPieces).toBe(Math.min(ANSWER_PIECES, spec.contextLength - made.promptPieces));
  });

  it('says pieces for what the model reads and writes, tokens only for money', () => {
    const made = request('John 3:16');
    const network = estimateOf(model, made, 'network', 1000);
    expect(network.headline).toBe(`At most ${made.maxPrice} token${made.maxPrice === 1 ? '' : 's'}`);
    expect(network.maxPrice).toBe(made.maxPrice);
    expect(network.detail).toMatch(new RegExp(`${made.promptPieces} pieces.*up to ${made.maxPieces} pieces`));
    expect(tokenAmounts(`${network.headline} ${network.detail}`)).toEqual([made.maxPrice]);
    expect(estimateOf(model, made, 'network', made.maxPrice - 1).tooPoor).toBe(true);
    const phone = estimateOf(model, made, 'phone', 0);
    expect([phone.headline, phone.maxPrice, phone.tooPoor]).toEqual(['Free on this phone', undefined, false]);

    const facts = answerFacts(
      {
        id: 'a',
        role: 'assistant',
        text: 'For God so loved',
        at: 1,
        state: 'done',
        where: 'network',
        via: 'relay',
        price: 2,
        maxPrice: 4,
        pieces: 60,
        piecesPerSecond: 85.4,
        finish: 'stopped',
        verified: true,
      },
      false,
    );
    expect(facts).toEqual({
      where: 'On the network · via relay',
      rate: '85 pieces/s',
      ending: 'Stopped',
      cost: 'Cost: 2 tokens (at most 4)',
      verification: 'verified',
    });
    const live = { conversationId: 'c', messageId: 'm', download: undefined, pieces: 3, stopping: false } as const;
    expect(liveLabel({ ...live, phase: 'streaming', piecesPerSecond: 40 }, 'phone')).toBe('Writing…');
    expect(
      liveLabel(
        { ...live, phase: 'loading', piecesPerSecond: undefined, download: { loaded: 1, total: 4 } as never },
        'phone',
      ),
    ).toBe('Downloading the model to this phone: 25%');
    expect(conversationTitle('  John 3:16\nand more')).toBe('John 3:16');
    expect(conversationTitle('x'.repeat(80))).toHaveLength(48);
  });
});

/** What the stand-in task service was asked, and how it answers. */
interface FakeNetwork {
  tasks: ChatSessionInit['tasks'];
  /** Fires an outbox change, as a delivery by the page or the service worker does. */
  outboxChanged(change: OutboxChange): void;
  onOutboxChange: NonNullable<ChatSessionInit['onOutboxChange']>;
  outbox: Map<TaskId, OutboxEntry['state']>;
  submitted: number;
  verified: TaskId[];
}

/**
 * A stand-in for the task service: answers `answer` (streamed piece by
 * piece through `onText`, one every `pieceMs`), settles it at the model's
 * price for the pieces written (fewer when stopped), and verifies.
 */
function fakeNetwork(options: { queued?: boolean; answer: string; pieceMs?: number }): FakeNetwork {
  const listeners = new Set<(change: OutboxChange) => void>();
  const bytes = [...new TextEncoder().encode(options.answer)];
  let inputBytes: Uint8Array = new Uint8Array();
  const network: FakeNetwork = {
    outbox: new Map(),
    submitted: 0,
    verified: [],
    outboxChanged(change) {
      for (const listener of listeners) listener(change);
    },
    onOutboxChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    tasks: {
      submit(_entry, input) {
        network.submitted++;
        inputBytes = input.bytes;
        if (options.queued === true) {
          network.outbox.set(TASK, 'queued');
          return Promise.resolve<SubmitOutcome>({ kind: 'queued', taskId: TASK });
        }
        return Promise.resolve<SubmitOutcome>({ kind: 'sent', task: { id: TASK } as TaskView });
      },
      async waitForResult(id, wait = {}) {
        const pieces: number[] = [];
        for (const [index, byte] of bytes.entries()) {
          if (wait.stop?.aborted === true) break;
          await new Promise((resolve) => setTimeout(resolve, options.pieceMs ?? 2));
          pieces.push(byte);
          wait.onText?.(index, String.fromCharCode(byte));
        }
        const stopped = pieces.length < bytes.length;
        const decoded = textGenerationPipeline.decodeInput(inputBytes);
        if (!decoded.ok) throw decoded.error;
        const text = String.fromCharCode(...pieces);
        const output = textGenerationPipeline.encodeOutput({
          text,
          pieces,
          promptPieces: 1 + inputBytes.length,
          finish: stopped ? 'stopped' : 'stop',
          ...(stopped ? { stopProof: new Uint8Array([1]) } : {}),
        });
        const decodedOutput = textGenerationPipeline.decodeOutput(output);
        if (!decodedOutput.ok) throw decodedOutput.error;
        const quote = quoteTask(model, textGenerationPipeline, decoded.value, decodedOutput.value);
        if (!quote.ok) throw quote.error;
        const task = { id, state: 'settled', price: quote.value.price, units: pieces.length } as TaskView;
        return { task, output, receipt: new Uint8Array() };
      },
      verify(id) {
        network.verified.push(id);
        return Promise.resolve({
          verified: true,
          taskId: id,
          checks: [{ name: 'receipt-signature', ok: true, detail: '' }],
        } as VerificationReport);
      },
      outboxEntry(id) {
        const state = network.outbox.get(id);
        return Promise.resolve(state === undefined ? undefined : ({ taskId: id, state } as OutboxEntry));
      },
      onEvent: () => () => undefined,
    },
  };
  return network;
}

/** A session over a fresh database, with the real local worker for the phone and `network` for the network. */
async function chatSession(
  network: FakeNetwork = fakeNetwork({ answer: 'unused' }),
  extra: Partial<ChatSessionInit> = {},
): Promise<{ session: ChatSession; db: AcnDb }> {
  const db = await freshDb();
  const models: ChatSessionInit['models'] = {
    runLocally: (entry, input, options) => runLocally(entry, input, { ...options, ...paths }),
  };
  const session = createChatSession({
    db,
    models,
    tasks: network.tasks,
    onOutboxChange: network.onOutboxChange,
    ...extra,
  });
  sessions.push(session);
  await session.start();
  session.offer(catalogue);
  return { session, db };
}

/** The texts the open conversation's last answer showed while it was pending. */
function watchAnswerTexts(session: ChatSession): string[] {
  const texts: string[] = [];
  session.subscribe((state) => {
    const last = state.conversation?.messages.at(-1);
    if (last?.role === 'assistant' && last.state === 'pending' && last.text !== texts.at(-1)) texts.push(last.text);
  });
  return texts;
}

describe('chat session on this phone', () => {
  it(
    'streams the answer from the local worker, keeps it, and a Stop leaves a shorter one',
    async () => {
      const { session, db } = await chatSession();
      expect(session.state.entry?.id).toBe(model.id);
      expect(session.state.where).toBe('phone');
      const texts = watchAnswerTexts(session);
      const phases = new Set<string>();
      session.subscribe((state) => {
        if (state.live) phases.add(state.live.phase);
      });
      session.setDraft('John 3:16');
      expect(session.state.request?.maxPrice).toBeGreaterThan(0);
      await session.send();

      const full = session.state.conversation?.messages.at(-1);
      expect(full).toMatchObject({ role: 'assistant', state: 'done', where: 'phone', backend: 'WASM' });
      expect(full?.text.trim()).not.toBe('');
      expect(full?.pieces).toBeGreaterThan(10);
      expect(full?.piecesPerSecond).toBeGreaterThan(0);
      // Several updates of the text before the end, each one growing the last.
      expect(texts.length).toBeGreaterThan(2);
      for (const [i, text] of texts.entries()) if (i > 0) expect(text.startsWith(texts[i - 1] ?? '')).toBe(true);
      expect(full?.text.startsWith(texts.at(-1) ?? '')).toBe(true);
      expect(phases.has('streaming')).toBe(true);
      expect(session.state.live).toBeUndefined();
      expect(session.state.draft).toBe('');

      // Kept on the device, as shown.
      const kept = await listConversations(db);
      expect(kept).toHaveLength(1);
      expect(kept[0]?.title).toBe('John 3:16');
      expect(kept[0]?.messages.map((m) => [m.role, m.text])).toEqual([
        ['user', 'John 3:16'],
        ['assistant', full?.text],
      ]);

      // The same question in a new chat, stopped after a few pieces: the same beginning, shorter.
      session.newChat();
      session.setDraft('John 3:16');
      const stopAfter = session.subscribe((state) => {
        if ((state.live?.pieces ?? 0) >= 3 && state.live?.stopping === false) session.stopAnswer();
      });
      await session.send();
      stopAfter();
      const stopped = session.state.conversation?.messages.at(-1);
      expect(stopped).toMatchObject({ state: 'done', finish: 'stopped' });
      expect(stopped?.pieces).toBeGreaterThanOrEqual(3);
      expect(stopped?.pieces).toBeLessThan(full?.pieces ?? 0);
      expect(full?.text.startsWith(stopped?.text ?? '?')).toBe(true);
      expect(session.state.conversations).toHaveLength(2);
    },
    HEAVY_TEST_MS,
  );

  it(
    'keeps at most the conversation limit, and opens and deletes conversations',
    async () => {
      const { session, db } = await chatSession(undefined, { conversationLimit: 2 });
      for (const prompt of ['Genesis 1:1', 'Psalms 23:1', 'John 1:1']) {
        session.newChat();
        session.setDraft(prompt);
        await session.send();
      }
      await expect
        .poll(async () => (await listConversations(db)).map((c) => c.title))
        .toEqual(['John 1:1', 'Psalms 23:1']);
      expect(session.state.conversations.map((c) => c.title)).toEqual(['John 1:1', 'Psalms 23:1']);
      const older = session.state.conversations[1];
      if (!older) throw new Error('no second conversation');
      session.open(older.id);
      expect(session.state.conversation?.title).toBe('Psalms 23:1');
      // A follow-up reads the conversation so far.
      session.setDraft('Psalms 23:2');
      expect(session.state.request?.input.messages?.map((m) => m.content)).toEqual([
        'Psalms 23:1',
        older.messages[1]?.text,
        'Psalms 23:2',
      ]);
      await session.remove(older.id);
      expect(session.state.conversation).toBeUndefined();
      expect((await listConversations(db)).map((c) => c.title)).toEqual(['John 1:1']);
    },
    HEAVY_TEST_MS,
  );
});

describe('chat session on the network', () => {
  it('streams, settles and verifies an answer, and Stop pays for what it wrote', async () => {
    const network = fakeNetwork({ answer: 'For God so loved the world' });
    const { session } = await chatSession(network);
    session.setWhere('network');
    session.setDraft('John 3:16');
    const maxPrice = session.state.request?.maxPrice;
    const texts = watchAnswerTexts(session);
    await session.send();
    await expect.poll(() => network.verified).toEqual([TASK]);
    const answer = session.state.conversation?.messages.at(-1);
    expect(answer).toMatchObject({
      state: 'done',
      where: 'network',
      taskId: TASK,
      text: 'For God so loved the world',
      maxPrice,
      verified: true,
    });
    expect(answer?.price).toBeGreaterThan(0);
    expect(answer?.price).toBeLessThanOrEqual(maxPrice ?? 0);
    expect(texts.length).toBeGreaterThan(1);

    const slow = fakeNetwork({ answer: 'In the beginning God created the heaven and the earth.', pieceMs: 20 });
    const { session: stopping } = await chatSession(slow);
    stopping.setWhere('network');
    stopping.setDraft('Genesis 1:1');
    stopping.subscribe((state) => {
      if ((state.live?.pieces ?? 0) >= 4 && state.live?.stopping === false) stopping.stopAnswer();
    });
    await stopping.send();
    const stopped = stopping.state.conversation?.messages.at(-1);
    expect(stopped).toMatchObject({ state: 'done', finish: 'stopped' });
    expect(stopped?.text.length).toBeLessThan(20);
    expect('In the beginning God'.startsWith(stopped?.text ?? '?')).toBe(true);
  });

  it('queues a message while offline, and fills in its answer once the outbox delivered it', async () => {
    const network = fakeNetwork({ queued: true, answer: 'In the beginning' });
    const { session, db } = await chatSession(network);
    session.setWhere('network');
    session.setDraft('Genesis 1:1');
    await session.send();
    expect(session.state.conversation?.messages.at(-1)).toMatchObject({ state: 'queued', taskId: TASK });
    expect(session.state.live).toBeUndefined();
    // Still queued: a look changes nothing.
    await session.resume();
    expect(session.state.conversation?.messages.at(-1)?.state).toBe('queued');

    network.outbox.set(TASK, 'delivered');
    network.outboxChanged({ taskId: TASK, state: 'delivered' });
    await expect.poll(() => session.state.conversation?.messages.at(-1)?.state).toBe('done');
    expect(session.state.conversation?.messages.at(-1)).toMatchObject({ text: 'In the beginning', taskId: TASK });
    await expect.poll(() => network.verified).toEqual([TASK]);
    await expect.poll(async () => (await listConversations(db))[0]?.messages.at(-1)?.verified).toBe(true);
    expect(network.submitted).toBe(1);
  });
});

// The Chat screen and its components are loaded by URL: the test project's typecheck does not compile the app's decorators.
const PAGE_CHAT = '../../../../web/pages/page-chat.ts';
await import(/* @vite-ignore */ PAGE_CHAT);

/** The first element matching `selector`, looking into the components' shadow roots. */
function deepQuery(root: ParentNode, selector: string): HTMLElement | null {
  if (root instanceof Element && root.shadowRoot) return deepQuery(root.shadowRoot, selector);
  const found = root.querySelector<HTMLElement>(selector);
  if (found) return found;
  for (const element of root.querySelectorAll('*')) {
    if (element.shadowRoot) {
      const inner = deepQuery(element, selector);
      if (inner) return inner;
    }
  }
  return null;
}

describe('page-chat', () => {
  it(
    'shows the estimate, streams the answer and shows its facts',
    async () => {
      const { session } = await chatSession();
      const host = document.createElement('div');
      const fakeModels = { catalogue: () => Promise.resolve({ v: 1, models: catalogue }) };
      new ContextProvider(host, { context: chatContext, initialValue: session });
      new ContextProvider(host, { context: modelsContext, initialValue: fakeModels as unknown as ModelService });
      new ContextProvider(host, { context: statusContext, initialValue: { ...initialStatus(true), balance: 1000 } });
      document.body.append(host);
      const page = document.createElement('page-chat');
      host.append(page);
      await expect.poll(() => deepQuery(page, '[data-testid=chat-empty]') !== null).toBe(true);
      expect(deepQuery(page, '[data-testid=chat-model-hint]')?.textContent).toBe(modelHint(model));
      expect(deepQuery(page, '[data-testid=chat-example]')?.textContent.trim()).toBe('John 3:16');

      deepQuery(page, '[data-testid=chat-example]')?.click();
      (deepQuery(page, '[data-testid=chat-where-network]') as HTMLInputElement).click();
      await expect
        .poll(() => deepQuery(page, '[data-testid=chat-estimate]')?.dataset.value)
        .toBe(String(session.state.request?.maxPrice));
      expect(deepQuery(page, '[data-testid=chat-estimate]')?.textContent).toMatch(/At most \d+ tokens?/);
      (deepQuery(page, '[data-testid=chat-where-phone]') as HTMLInputElement).click();
      await expect
        .poll(() => deepQuery(page, '[data-testid=chat-estimate]')?.textContent)
        .toMatch(/Free on this phone/);

      // The text as the screen showed it, frame by frame.
      const shown: string[] = [];
      let watching = true;
      const look = (): void => {
        const text = deepQuery(page, '[data-testid=chat-answer][data-state=streaming] [data-testid=chat-text]');
        if (text?.textContent && text.textContent !== shown.at(-1)) shown.push(text.textContent);
        if (watching) requestAnimationFrame(look);
      };
      requestAnimationFrame(look);
      deepQuery(page, '[data-testid=chat-send]')?.click();
      await expect
        .poll(() => deepQuery(page, '[data-testid=chat-answer][data-state=done]'), { timeout: 60_000 })
        .not.toBeNull();
      watching = false;
      const done = deepQuery(page, '[data-testid=chat-answer][data-state=done]');
      const final = session.state.conversation?.messages.at(-1)?.text ?? '';
      expect(done?.querySelector('[data-testid=chat-text]')?.textContent).toBe(final);
      expect(shown.length).toBeGreaterThan(1);
      for (const text of shown) expect(final.startsWith(text)).toBe(true);
      expect(done?.querySelector('[data-testid=chat-answer-rate]')?.textContent).toMatch(/^\d[\d,]* pieces\/s$/);
      expect(done?.textContent).toMatch(/On this phone · WASM/);
      expect(done?.querySelector('[data-testid=chat-copy]')).not.toBeNull();
      expect(deepQuery(page, '[data-testid=chat-message][data-role=user]')?.textContent.trim()).toBe('John 3:16');
      expect(deepQuery(page, '[data-testid=chat-conversations]')?.dataset.count).toBe('1');
    },
    HEAVY_TEST_MS,
  );
});
