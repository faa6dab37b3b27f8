/**
 * Live events from the relay's WebSocket (`/api/events`): every message is
 * JSON `{ type, data, ts }`. The subscription reconnects with exponential
 * backoff (and jitter, so a crowd of phones does not come back at once) until
 * it is closed; `?account=` narrows account events to one account.
 *
 * The relay pings each client at the WebSocket level and drops one that does
 * not answer; browsers and Node answer pings themselves, so there is nothing
 * to do here but reconnect when the socket closes.
 */
import * as v from 'valibot';
import type { AccountId, BlockHash } from '#core/identity/ids.ts';
import { hash } from '#core/messages/fields.ts';
import { SubscriptionClosedError } from './errors.ts';
import { taskViewSchema, type TaskView } from '#core/api/responses.ts';

/** The `data` of a `block_mined` event. */
export interface BlockMined {
  readonly height: number;
  readonly id: BlockHash;
  readonly ts: number;
  readonly txCount: number;
}

/** Each event type the relay publishes, with its `data`. */
export interface RelayEventMap {
  readonly task_submitted: TaskView;
  readonly task_completed: TaskView;
  readonly resource_updated: unknown;
  readonly peer_connected: unknown;
  readonly block_mined: BlockMined;
}
export type RelayEventType = keyof RelayEventMap;

export type SubscriptionState = 'connecting' | 'open' | 'closed';

/** The subset of the WebSocket constructor the SDK uses (the browser's, Node 22's global, or `ws`). */
export type WebSocketLike = new (url: string) => {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
};

export interface EventSubscriptionInit {
  /** The relay's base URL (http or https; the socket uses ws or wss). */
  readonly relayUrl: string;
  readonly WebSocket: WebSocketLike;
  /** Only this account's task events (and events about no account). Default: everything. */
  readonly account?: AccountId | undefined;
  /** First reconnection delay; doubles up to `maxBackoffMs`. Default 500 ms. */
  readonly backoffMs?: number;
  /** Default 30 000 ms. */
  readonly maxBackoffMs?: number;
  /** Closes the subscription when aborted. */
  readonly signal?: AbortSignal | undefined;
}

export interface EventSubscription {
  /** Calls `handler` for each event of `type`; returns a function that removes it. */
  on<K extends RelayEventType>(type: K, handler: (data: RelayEventMap[K], ts: number) => void): () => void;
  /** Calls `handler` when the socket opens, drops (and will reconnect) or the subscription closes. */
  onState(handler: (state: SubscriptionState) => void): () => void;
  readonly state: SubscriptionState;
  /** Resolves once the socket is open (now, if it is); rejects when the subscription closes first or `signal` aborts. */
  opened(options?: { readonly signal?: AbortSignal | undefined }): Promise<void>;
  /** Stops reconnecting and closes the socket. */
  close(): void;
}

const messageSchema = v.object({ type: v.string(), data: v.unknown(), ts: v.number() });
const blockMinedSchema = v.object({
  height: v.number(),
  id: hash as unknown as v.CustomSchema<BlockHash, undefined>,
  ts: v.number(),
  txCount: v.number(),
});
/** Events whose data is checked before handlers see it; the others are passed as they came. */
const dataSchemas: Partial<Record<RelayEventType, v.GenericSchema>> = {
  task_submitted: taskViewSchema,
  task_completed: taskViewSchema,
  block_mined: blockMinedSchema,
};
const WS_OPEN = 1;

/** Opens a subscription to the relay's events; see the module comment. */
export function subscribeToEvents(init: EventSubscriptionInit): EventSubscription {
  const { backoffMs = 500, maxBackoffMs = 30_000 } = init;
  const url = new URL(init.relayUrl.replace(/\/+$/, '') + '/api/events');
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (init.account !== undefined) url.searchParams.set('account', init.account);

  const handlers = new Map<string, Set<(data: never, ts: number) => void>>();
  const stateHandlers = new Set<(state: SubscriptionState) => void>();
  let state: SubscriptionState = 'connecting';
  let socket: InstanceType<WebSocketLike> | undefined;
  let attempt = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const setState = (next: SubscriptionState) => {
    if (state === next) return;
    state = next;
    for (const handler of [...stateHandlers]) handler(next);
  };

  const dispatch = (raw: unknown) => {
    if (typeof raw !== 'string') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return;
    }
    const message = v.safeParse(messageSchema, json);
    if (!message.success) return;
    const { type, data, ts } = message.output;
    const listeners = handlers.get(type);
    if (!listeners || listeners.size === 0) return;
    const schema = dataSchemas[type as RelayEventType];
    const parsed = schema ? v.safeParse(schema, data) : { success: true as const, output: data };
    // A malformed event is dropped rather than handed on: handlers trust their types.
    if (!parsed.success) return;
    for (const handler of [...listeners]) handler(parsed.output as never, ts);
  };

  const connect = () => {
    retry = undefined;
    if (state === 'closed') return;
    setState('connecting');
    let ws: InstanceType<WebSocketLike>;
    try {
      ws = new init.WebSocket(url.href);
    } catch {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.addEventListener('open', () => {
      if (socket !== ws) return;
      attempt = 0;
      setState('open');
    });
    ws.addEventListener('message', (event) => {
      if (socket === ws) dispatch(event.data);
    });
    ws.addEventListener('close', () => {
      if (socket !== ws) return;
      socket = undefined;
      scheduleReconnect();
    });
    // An error is followed by a close, which reconnects.
    ws.addEventListener('error', () => undefined);
  };

  const scheduleReconnect = () => {
    if (state === 'closed') return;
    setState('connecting');
    const delay = Math.min(maxBackoffMs, backoffMs * 2 ** attempt);
    attempt++;
    retry = setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
  };

  const close = () => {
    if (state === 'closed') return;
    if (retry !== undefined) clearTimeout(retry);
    const ws = socket;
    socket = undefined;
    setState('closed');
    try {
      ws?.close(1000, 'client closed');
    } catch {
      // Closing a socket that is still connecting throws in some runtimes; it is gone either way.
    }
  };

  const onState = (handler: (state: SubscriptionState) => void) => {
    stateHandlers.add(handler);
    return () => {
      stateHandlers.delete(handler);
    };
  };

  if (init.signal?.aborted) {
    state = 'closed';
  } else {
    init.signal?.addEventListener('abort', close, { once: true });
    connect();
  }

  return {
    on(type, handler) {
      let set = handlers.get(type);
      if (!set) handlers.set(type, (set = new Set()));
      const listener = handler as (data: never, ts: number) => void;
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    onState,
    get state() {
      return state === 'open' && socket?.readyState !== WS_OPEN ? 'connecting' : state;
    },
    opened(options = {}) {
      return new Promise<void>((resolve, reject) => {
        if (state === 'open') {
          resolve();
          return;
        }
        if (state === 'closed') {
          reject(new SubscriptionClosedError('the event subscription is closed'));
          return;
        }
        const done = () => {
          off();
          options.signal?.removeEventListener('abort', aborted);
        };
        const aborted = () => {
          done();
          reject(options.signal?.reason as Error);
        };
        const off = onState((next) => {
          if (next === 'open') {
            done();
            resolve();
          } else if (next === 'closed') {
            done();
            reject(new SubscriptionClosedError('the event subscription is closed'));
          }
        });
        if (options.signal?.aborted) aborted();
        else options.signal?.addEventListener('abort', aborted, { once: true });
      });
    },
    close,
  };
}
