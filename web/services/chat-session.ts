/**
 * The Chat screen's state, kept by the app while the user is on other
 * screens: the language model chosen, where it runs (this phone or the
 * network), the message being written with what it may cost, the
 * conversations kept on the device, and the answer being made, streamed
 * piece by piece.
 *
 * On this phone the model runs in the local inference Web Worker (offline
 * too, once its files are on the device); Stop ends it with what it wrote.
 * On the network the message is a signed, escrowed task like any other: sent
 * on the interactive path, or queued in the outbox while offline (its answer
 * fills in when it comes back, even after a reload); Stop sends the signed
 * stop, and the task settles for the pieces made. A network answer's receipt
 * is then verified on the phone, and the answer says so, with its cost.
 *
 * Screens read {@link ChatSession.state}, a new snapshot on every change,
 * and follow it with {@link ChatSession.subscribe}.
 */
import type { TaskId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { TaskResult } from '#core/api/responses.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import type { TextGenerationResult } from '#core/pipelines/text-generation/result.ts';
import { isRetryable } from '#client/sdk/errors.ts';
import type { AcnDb } from '#browser-storage/db.ts';
import {
  CONVERSATION_LIMIT,
  deleteConversation,
  listConversations,
  saveConversation,
  type StoredChatMessage,
  type StoredConversation,
} from '#browser-storage/conversations.ts';
import { onOutboxChange as watchOutboxChanges, type OutboxChange } from '#browser-storage/outbox/outbox.ts';
import type { LocalDownloadProgress } from '../inference/run-locally.ts';
import {
  chatModels,
  chatRequest,
  conversationTitle,
  piecesPerSecond,
  type ChatRequest,
  type ChatTurn,
} from './chat-prompt.ts';
import { errorText, type ErrorText } from './error-text.ts';
import type { ModelService } from './model-service.ts';
import type { TaskService } from './task-service.ts';

export type ChatWhere = 'phone' | 'network';

/** The answer being made now (one at a time). */
export interface LiveAnswer {
  readonly conversationId: string;
  readonly messageId: string;
  /**
   * - `loading`: getting the model onto the phone and starting it;
   * - `sending`: signing and sending the task;
   * - `waiting`: sent, no text yet;
   * - `streaming`: text is arriving.
   */
  readonly phase: 'loading' | 'sending' | 'waiting' | 'streaming';
  /** The model's download to this phone, while one runs. */
  readonly download: LocalDownloadProgress | undefined;
  readonly pieces: number;
  /** Pieces written per second since the first arrived; undefined until there are two. */
  readonly piecesPerSecond: number | undefined;
  /** Stop was pressed; the answer ends with what was made. */
  readonly stopping: boolean;
}

export interface ChatSnapshot {
  /** The conversations have been read from the device. */
  readonly loaded: boolean;
  /** The catalogue's language models. */
  readonly models: readonly ModelEntry[];
  readonly entry: ModelEntry | undefined;
  readonly where: ChatWhere;
  /** The message being written. */
  readonly draft: string;
  /** The draft as a task, with the most it may cost; undefined while there is nothing to send. */
  readonly request: ChatRequest | undefined;
  /** What to fix in the draft (empty draft: none). */
  readonly draftError: string | undefined;
  /** Kept conversations, the most recently changed first. */
  readonly conversations: readonly StoredConversation[];
  /** The open conversation; undefined for a new chat not yet started. */
  readonly conversation: StoredConversation | undefined;
  readonly live: LiveAnswer | undefined;
  /** Answers (message ids) whose receipt is being verified. */
  readonly verifying: ReadonlySet<string>;
  /** A failure not tied to one answer (the device's storage). */
  readonly error: ErrorText | undefined;
}

export interface ChatSessionInit {
  /** Where the conversations are kept. */
  readonly db: AcnDb;
  /** Runs the model on this phone. */
  readonly models: Pick<ModelService, 'runLocally'>;
  /** Sends, waits for, verifies network tasks; the outbox and the relay's events. */
  readonly tasks: Pick<TaskService, 'submit' | 'waitForResult' | 'verify' | 'outboxEntry' | 'onEvent'>;
  /** Conversations kept. Default {@link CONVERSATION_LIMIT}. */
  readonly conversationLimit?: number;
  /** A monotonic clock in ms, for pieces per second. Default `performance.now()`. */
  readonly now?: () => number;
  /** The time, for the messages. Default `Date.now()`. */
  readonly clock?: () => number;
  /** Calls back on every outbox change in any context. Default: the outbox's BroadcastChannel. */
  readonly onOutboxChange?: (listener: (change: OutboxChange) => void) => () => void;
  /** Runs `callback` before the next repaint (streamed text is shown at most once a frame). Default `requestAnimationFrame`. */
  readonly frame?: (callback: () => void) => void;
}

export interface ChatSession {
  readonly state: ChatSnapshot;
  /** Calls `listener` with every new snapshot; returns the unsubscribe function. */
  subscribe(listener: (state: ChatSnapshot) => void): () => void;
  /** Reads the kept conversations and picks up the network answers still awaited. */
  start(): Promise<void>;
  /** The catalogue as the screen shows it: its language models are offered, the first chosen when none is. */
  offer(models: readonly ModelEntry[]): void;
  select(entry: ModelEntry): void;
  /** Where the next message runs; `phone` only for a model that runs on phones. */
  setWhere(where: ChatWhere): void;
  setDraft(text: string): void;
  /** Sends the draft: the model answers on this phone or on the network. */
  send(): Promise<void>;
  /** Ends the answer being made with what it has made (on the network: settles for those pieces). */
  stopAnswer(): void;
  /** Starts a new chat (the open one stays in the list). */
  newChat(): void;
  open(id: string): void;
  /** Deletes a conversation (an answer being made in it is stopped). */
  remove(id: string): Promise<void>;
  /** Looks again for awaited network answers (also done on outbox changes and the relay's task events). */
  resume(): Promise<void>;
  /** Stops the answer in progress, the watchers and the listeners. */
  stop(): void;
}

/** A random id (crypto.randomUUID needs a secure context; a phone on a LAN address is not one). */
function newId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An answer on the phone whose page closed before it was finished (a phone run does not outlive its page). */
class Interrupted extends Error {
  override readonly name = 'Interrupted';
  constructor() {
    super('The app was closed before the answer was finished. Send the message again.');
  }
}

/** The finished messages of a conversation, as the model reads them. */
function historyOf(conversation: StoredConversation | undefined): ChatTurn[] {
  return (conversation?.messages ?? [])
    .filter((m) => m.role === 'user' || (m.state === 'done' && m.text.trim() !== ''))
    .map((m) => ({ role: m.role, text: m.text }));
}

const defaultFrame = (callback: () => void): void => {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(callback);
  else setTimeout(callback, 16);
};

/** Makes a chat session; {@link ChatSession.start} reads the kept conversations. */
export function createChatSession(init: ChatSessionInit): ChatSession {
  const { db, models, tasks } = init;
  const limit = init.conversationLimit ?? CONVERSATION_LIMIT;
  const now = init.now ?? (() => performance.now());
  const clock = init.clock ?? (() => Date.now());
  const frame = init.frame ?? defaultFrame;
  const listeners = new Set<(state: ChatSnapshot) => void>();
  /** Ends the watchers and the answer in progress when the session stops. */
  const stopping = new AbortController();
  let state: ChatSnapshot = {
    loaded: false,
    models: [],
    entry: undefined,
    where: 'phone',
    draft: '',
    request: undefined,
    draftError: undefined,
    conversations: [],
    conversation: undefined,
    live: undefined,
    verifying: new Set(),
    error: undefined,
  };
  /** The answer in progress: cancel (`abort`, the run is dropped) and Stop (`stop`, it ends with what it made). */
  let running: { abort: AbortController; stop: AbortController } | undefined;
  /** Network answers being waited for, by message id (the live one included). */
  const watched = new Set<string>();
  /** Streamed text by piece index, per message: a stream replayed from its start overwrites, never doubles. */
  const streamed = new Map<string, string[]>();
  let flushPending = false;
  let saving: Promise<unknown> = Promise.resolve();
  let unwatch: (() => void)[] = [];

  const set = (change: Partial<ChatSnapshot>): void => {
    state = { ...state, ...change };
    for (const listener of listeners) listener(state);
  };

  /** The draft as a task for the chosen model and the open conversation's history. */
  const requestFor = (
    entry: ModelEntry | undefined,
    conversation: StoredConversation | undefined,
    draft: string,
  ): Pick<ChatSnapshot, 'request' | 'draftError'> => {
    if (!entry || draft.trim() === '') return { request: undefined, draftError: undefined };
    const request = chatRequest(entry, historyOf(conversation), draft);
    return typeof request === 'string'
      ? { request: undefined, draftError: request }
      : { request, draftError: undefined };
  };

  const withRequest = (change: Partial<ChatSnapshot>): Partial<ChatSnapshot> => {
    const next = { ...state, ...change };
    return { ...change, ...requestFor(next.entry, next.conversation, next.draft) };
  };

  const find = (id: string): StoredConversation | undefined => state.conversations.find((c) => c.id === id);

  /** Puts `conversation` in the list (most recent first) and, when it is the open one, there too. */
  const replace = (conversation: StoredConversation, change: Partial<ChatSnapshot> = {}): void => {
    const conversations = [conversation, ...state.conversations.filter((c) => c.id !== conversation.id)].sort(
      (a, b) => b.updatedAt - a.updatedAt,
    );
    const open = state.conversation?.id === conversation.id ? conversation : state.conversation;
    set(withRequest({ conversations, conversation: open, ...change }));
  };

  /** Writes a conversation as it is now (saves run one after another, so the last state wins). */
  const persist = (id: string): void => {
    saving = saving.then(async () => {
      const conversation = find(id);
      if (!conversation) return; // deleted meanwhile
      try {
        const dropped = await saveConversation(db, conversation, { limit });
        if (dropped.length > 0) {
          set({
            conversations: state.conversations.filter((c) => !dropped.includes(c.id)),
            conversation:
              state.conversation && dropped.includes(state.conversation.id) ? undefined : state.conversation,
          });
        }
      } catch (error) {
        set({ error: errorText(error) });
      }
    });
  };

  /** Changes one message of a conversation (kept in memory; `save` also writes it to the device). */
  const updateMessage = (
    conversationId: string,
    messageId: string,
    change: Partial<StoredChatMessage>,
    options: { save?: boolean; touch?: boolean } = {},
  ): void => {
    const conversation = find(conversationId);
    if (!conversation) return;
    const messages = conversation.messages.map((m) => (m.id === messageId ? { ...m, ...change } : m));
    replace({ ...conversation, messages, ...(options.touch === true ? { updatedAt: clock() } : {}) });
    if (options.save !== false) persist(conversationId);
  };

  const locate = (messageId: string): { conversation: StoredConversation; message: StoredChatMessage } | undefined => {
    for (const conversation of state.conversations) {
      const message = conversation.messages.find((m) => m.id === messageId);
      if (message) return { conversation, message };
    }
    return undefined;
  };

  /** How far each streamed answer got: pieces so far, and when the first came (for pieces per second). */
  const progress = new Map<string, { pieces: number; first: number; last: number }>();

  /** Streamed text, and the live answer's speed, go to the screen at most once a frame. */
  const flushStream = (): void => {
    flushPending = false;
    for (const [messageId, texts] of streamed) {
      const found = locate(messageId);
      if (found?.message.state !== 'pending') continue;
      const text = texts.join('');
      if (text !== found.message.text) updateMessage(found.conversation.id, messageId, { text }, { save: false });
    }
    const live = state.live;
    const got = live === undefined ? undefined : progress.get(live.messageId);
    if (live && got && got.pieces !== live.pieces) {
      set({
        live: {
          ...live,
          phase: 'streaming',
          download: undefined,
          pieces: got.pieces,
          piecesPerSecond: piecesPerSecond(got.pieces - 1, got.last - got.first),
        },
      });
    }
  };

  /** A streamed piece of `messageId`'s answer (a replayed index overwrites its text). */
  const onPiece = (messageId: string, index: number, text: string): void => {
    let texts = streamed.get(messageId);
    if (!texts) streamed.set(messageId, (texts = []));
    texts[index] = text;
    const at = now();
    const got = progress.get(messageId);
    progress.set(messageId, { pieces: Math.max(got?.pieces ?? 0, index + 1), first: got?.first ?? at, last: at });
    if (!flushPending) {
      flushPending = true;
      frame(flushStream);
    }
  };

  /** The stream's pieces per second, first piece to last; forgets the stream. */
  const streamRate = (messageId: string): number | undefined => {
    const got = progress.get(messageId);
    progress.delete(messageId);
    streamed.delete(messageId);
    return got === undefined ? undefined : piecesPerSecond(got.pieces - 1, got.last - got.first);
  };

  /** A finished network answer: its text, cost and way; then its receipt is verified. */
  const finishNetwork = (
    conversationId: string,
    messageId: string,
    entry: ModelEntry | undefined,
    result: TaskResult & { via?: 'webrtc' | 'relay' },
    rate: number | undefined,
  ): void => {
    const decoded = decodeAnswer(entry, result.output);
    updateMessage(
      conversationId,
      messageId,
      {
        state: 'done',
        text: decoded?.text ?? '',
        finish: decoded?.finish ?? 'stop',
        pieces: decoded?.pieces.length ?? result.task.units,
        price: result.task.price,
        via: result.via ?? 'relay',
        ...(rate === undefined ? {} : { piecesPerSecond: rate }),
      },
      { touch: true },
    );
    void verify(conversationId, messageId, result.task.id);
  };

  const verify = async (conversationId: string, messageId: string, taskId: TaskId): Promise<void> => {
    set({ verifying: new Set(state.verifying).add(messageId) });
    try {
      const report = await tasks.verify(taskId, { signal: stopping.signal });
      const verified = report.verified && report.checks.length > 0 && report.checks.every((c) => c.ok);
      updateMessage(conversationId, messageId, { verified });
    } catch {
      // Not verified yet (the block is late, the relay is away): the answer links to its task to try again.
    } finally {
      const verifying = new Set(state.verifying);
      verifying.delete(messageId);
      set({ verifying });
    }
  };

  const failMessage = (conversationId: string, messageId: string, error: unknown): void => {
    streamRate(messageId);
    const text = error instanceof Interrupted ? { message: error.message, code: 'interrupted' } : errorText(error);
    updateMessage(
      conversationId,
      messageId,
      { state: 'failed', error: text.message, ...(text.code === undefined ? {} : { errorCode: text.code }) },
      { touch: true },
    );
  };

  const endLive = (messageId: string): void => {
    if (state.live?.messageId === messageId) set({ live: undefined });
    running = undefined;
  };

  const runOnPhone = async (
    conversationId: string,
    messageId: string,
    entry: ModelEntry,
    request: ChatRequest,
    control: { abort: AbortController; stop: AbortController },
  ): Promise<void> => {
    let shownAt = Number.NEGATIVE_INFINITY;
    try {
      const run = await models.runLocally(entry, request.bytes, {
        signal: control.abort.signal,
        stop: control.stop.signal,
        onText: (index, text) => {
          onPiece(messageId, index, text);
        },
        onDownloadProgress: (download) => {
          // Downloads report every chunk; a few repaints a second are enough for a percentage.
          const at = now();
          if (at - shownAt < 150 && download.loaded < download.total) return;
          shownAt = at;
          if (state.live?.messageId === messageId && state.live.phase === 'loading') {
            set({ live: { ...state.live, download } });
          }
        },
      });
      streamRate(messageId);
      const decoded = decodeAnswer(entry, run.output);
      if (!decoded) throw new Error('the model gave an answer this app cannot read');
      const rate = piecesPerSecond(decoded.pieces.length, run.ms);
      updateMessage(
        conversationId,
        messageId,
        {
          state: 'done',
          text: decoded.text,
          finish: decoded.finish,
          pieces: decoded.pieces.length,
          backend: run.backend === 'webgpu' ? 'WebGPU' : 'WASM',
          ...(rate === undefined ? {} : { piecesPerSecond: rate }),
        },
        { touch: true },
      );
    } catch (error) {
      if (control.abort.signal.aborted) return;
      failMessage(conversationId, messageId, error);
    } finally {
      endLive(messageId);
    }
  };

  const runOnNetwork = async (
    conversationId: string,
    messageId: string,
    entry: ModelEntry,
    request: ChatRequest,
    control: { abort: AbortController; stop: AbortController },
  ): Promise<void> => {
    const signal = control.abort.signal;
    const stream = {
      onText: (index: number, text: string) => {
        onPiece(messageId, index, text);
      },
      stop: control.stop.signal,
    };
    watched.add(messageId);
    try {
      const outcome = await tasks.submit(
        entry,
        { bytes: request.bytes, maxPrice: request.maxPrice },
        { signal, ...stream },
      );
      if (outcome.kind === 'queued') {
        updateMessage(conversationId, messageId, { state: 'queued', taskId: outcome.taskId });
        return;
      }
      const taskId = outcome.task.id;
      updateMessage(conversationId, messageId, { taskId });
      if (state.live?.messageId === messageId && state.live.phase === 'sending') {
        set({ live: { ...state.live, phase: 'waiting' } });
      }
      const result =
        outcome.direct === undefined
          ? await tasks.waitForResult(taskId, { signal, ...stream })
          : await untilAborted(outcome.direct, signal);
      finishNetwork(conversationId, messageId, entry, result, streamRate(messageId));
    } catch (error) {
      if (signal.aborted) return;
      failMessage(conversationId, messageId, error);
    } finally {
      watched.delete(messageId);
      endLive(messageId);
    }
  };

  /** Waits for an awaited network answer from an earlier visit (or one the outbox delivered since). */
  const watch = async (conversationId: string, message: StoredChatMessage, taskId: TaskId): Promise<void> => {
    watched.add(message.id);
    try {
      const entry = state.models.find((m) => m.id === find(conversationId)?.model);
      const result = await tasks.waitForResult(taskId, {
        signal: stopping.signal,
        onText: (index: number, text: string) => {
          onPiece(message.id, index, text);
        },
      });
      finishNetwork(conversationId, message.id, entry, result, streamRate(message.id));
    } catch (error) {
      if (stopping.signal.aborted) return;
      // Offline again, or the relay is away: the next trigger tries again.
      if (!isRetryable(error)) failMessage(conversationId, message.id, error);
    } finally {
      watched.delete(message.id);
    }
  };

  const session: ChatSession = {
    get state() {
      return state;
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    async start() {
      try {
        const conversations = await listConversations(db);
        set(withRequest({ conversations, loaded: true }));
      } catch (error) {
        set({ loaded: true, error: errorText(error) });
        return;
      }
      const again = (): void => void session.resume();
      unwatch = [
        (init.onOutboxChange ?? watchOutboxChanges)(again),
        tasks.onEvent('task_completed', (task) => {
          if (state.conversations.some((c) => c.messages.some((m) => m.taskId === task.id && m.state !== 'done'))) {
            again();
          }
        }),
      ];
      await session.resume();
    },

    offer(offered) {
      const list = chatModels(offered);
      const chosen = state.entry === undefined ? undefined : list.find((m) => m.id === state.entry?.id);
      const entry = chosen ?? list.find((m) => m.id === state.conversation?.model) ?? list[0];
      if (list.length === state.models.length && list.every((m, i) => m === state.models[i]) && entry === state.entry)
        return;
      set(withRequest({ models: list, entry, where: fitWhere(entry, state.where) }));
    },

    select(entry) {
      set(withRequest({ entry, where: fitWhere(entry, state.where) }));
    },

    setWhere(where) {
      set(withRequest({ where: fitWhere(state.entry, where) }));
    },

    setDraft(draft) {
      set(withRequest({ draft }));
    },

    async send() {
      const { entry, request, where, live } = state;
      if (!entry || !request || live) return;
      const at = clock();
      const user: StoredChatMessage = { id: newId(), role: 'user', text: state.draft.trim(), at };
      const answer: StoredChatMessage = {
        id: newId(),
        role: 'assistant',
        text: '',
        at,
        state: 'pending',
        where,
        ...(where === 'network' ? { maxPrice: request.maxPrice } : {}),
      };
      const open = state.conversation;
      const conversation: StoredConversation = {
        id: open?.id ?? newId(),
        title: open?.title ?? conversationTitle(user.text),
        model: entry.id,
        createdAt: open?.createdAt ?? at,
        updatedAt: at,
        messages: [...(open?.messages ?? []), user, answer],
      };
      const control = { abort: new AbortController(), stop: new AbortController() };
      running = control;
      replace(conversation, {
        conversation,
        draft: '',
        live: {
          conversationId: conversation.id,
          messageId: answer.id,
          phase: where === 'phone' ? 'loading' : 'sending',
          download: undefined,
          pieces: 0,
          piecesPerSecond: undefined,
          stopping: false,
        },
      });
      persist(conversation.id);
      await (where === 'phone'
        ? runOnPhone(conversation.id, answer.id, entry, request, control)
        : runOnNetwork(conversation.id, answer.id, entry, request, control));
    },

    stopAnswer() {
      if (!running || !state.live) return;
      running.stop.abort();
      set({ live: { ...state.live, stopping: true } });
    },

    newChat() {
      set(withRequest({ conversation: undefined }));
    },

    open(id) {
      const conversation = find(id);
      if (!conversation) return;
      const entry = state.models.find((m) => m.id === conversation.model) ?? state.entry;
      set(withRequest({ conversation, entry, where: fitWhere(entry, state.where) }));
    },

    async remove(id) {
      if (state.live?.conversationId === id) {
        // The answer has nowhere to go: a network task is stopped (settles for what it made), a phone run ends.
        running?.stop.abort();
        running?.abort.abort();
        set({ live: undefined });
      }
      set(
        withRequest({
          conversations: state.conversations.filter((c) => c.id !== id),
          conversation: state.conversation?.id === id ? undefined : state.conversation,
        }),
      );
      saving = saving
        .then(() => deleteConversation(db, id))
        .catch((error: unknown) => {
          set({ error: errorText(error) });
        });
      await saving;
    },

    async resume() {
      for (const conversation of state.conversations) {
        for (const message of conversation.messages) {
          if (message.role !== 'assistant' || watched.has(message.id)) continue;
          const orphan =
            message.state === 'pending' &&
            state.live?.messageId !== message.id &&
            (message.where === 'phone' || message.taskId === undefined);
          if (orphan) {
            // A phone run does not outlive its page, nor does a message the page closed on before it was signed.
            failMessage(conversation.id, message.id, new Interrupted());
            continue;
          }
          if ((message.state !== 'pending' && message.state !== 'queued') || message.taskId === undefined) continue;
          const taskId = message.taskId;
          let queued;
          try {
            queued = await tasks.outboxEntry(taskId);
          } catch {
            continue; // the database is closing
          }
          if (watched.has(message.id)) continue;
          if (queued?.state === 'queued') continue;
          if (queued?.state === 'failed') {
            const reason = new Error(queued.lastErrorMessage ?? 'the relay refused it');
            failMessage(conversation.id, message.id, Object.assign(reason, { code: queued.lastError }));
            continue;
          }
          if (message.state === 'queued') updateMessage(conversation.id, message.id, { state: 'pending' });
          void watch(conversation.id, message, taskId);
        }
      }
    },

    stop() {
      stopping.abort();
      running?.abort.abort();
      for (const off of unwatch) off();
      unwatch = [];
      listeners.clear();
    },
  };
  return session;
}

/** `where` if the model can run there: a model too big for phones runs on the network. */
function fitWhere(entry: ModelEntry | undefined, where: ChatWhere): ChatWhere {
  return where === 'phone' && entry !== undefined && entry.sizeClass !== 'phone' ? 'network' : where;
}

/** The answer in a task's output bytes; undefined when they are not one. */
function decodeAnswer(entry: ModelEntry | undefined, output: Uint8Array): TextGenerationResult | undefined {
  const pipeline = pipelineFor(entry?.post ?? 'text-generation');
  const decoded = pipeline?.decodeOutput(output);
  return decoded?.ok === true ? (decoded.value as TextGenerationResult) : undefined;
}

/** `promise`, or the signal's reason once it aborts (the promise itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
    });
  });
}
