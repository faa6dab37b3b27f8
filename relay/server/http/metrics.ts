/**
 * The relay's Prometheus metrics: Node's process metrics, HTTP requests by
 * route and status, tasks by state, the ledger height, libp2p peers and
 * reservations, and event WebSocket clients. Values other parts already know
 * are read when Prometheus scrapes, through the callbacks given at creation,
 * so nothing has to push them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type RequestHandler, type Router } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TASK_STATES, type TaskState } from '#core/task-state/task-state.ts';

/** Every metric name starts with this. */
export const METRIC_PREFIX = 'acn_relay_';

/** Request duration buckets in seconds: API calls are quick, a task may wait for its result. */
export const DEFAULT_HTTP_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** The `route` label of a request that no route answered (static files, 404s), so paths never become labels. */
export const NO_ROUTE = 'none';

export interface MetricsInit {
  /** Where the metrics are registered. Default a new registry (not prom-client's global one). */
  readonly registry?: Registry;
  /** Node's process metrics (CPU, memory, event loop lag, GC…). Default true. */
  readonly defaultMetrics?: boolean;
  /** Buckets of the request duration histogram, in seconds. Default {@link DEFAULT_HTTP_BUCKETS}. */
  readonly httpBuckets?: readonly number[];
  /** The ledger's height, e.g. `() => ledger.height`. Default: no ledger height metric. */
  readonly ledgerHeight?: () => number;
  /** Tasks now in each state; states left out count 0. Default: no tasks gauge. */
  readonly tasksByState?: () => Partial<Readonly<Record<TaskState, number>>>;
  /**
   * libp2p peers connected now. Default: none. `createRelayNode({ metrics })`
   * registers the same metric itself: give either that registry or this callback.
   */
  readonly p2pPeers?: () => number;
  /** Circuit-relay reservations held now. Default: none. Same caveat as `p2pPeers`. */
  readonly p2pReservations?: () => number;
  /** Event WebSocket clients connected now, e.g. `() => events.clients()`. Default: none. */
  readonly eventClients?: () => number;
  /** Events skipped so far because a client was too far behind (a running total). Default: none. */
  readonly eventSendsSkipped?: () => number;
}

export interface RelayMetrics {
  readonly registry: Registry;
  /** Express middleware timing every request; mount it first on the app. */
  readonly middleware: RequestHandler;
  /** Answers `GET /metrics` in Prometheus's text format. */
  readonly router: Router;
  /** Counts a task entering `state` (`acn_relay_task_transitions_total`). */
  countTask(state: TaskState): void;
  /**
   * Times a request that express never sees (a request lane) as the
   * middleware times the others; `route()` gives its label when it ends
   * ({@link NO_ROUTE} until the lane reaches its handler, as with express).
   */
  timeRequest(req: IncomingMessage, res: ServerResponse, route: () => string): void;
}

/** Creates and registers the relay's metrics; see {@link MetricsInit} for what each callback feeds. */
export function createMetrics(init: MetricsInit = {}): RelayMetrics {
  const registry = init.registry ?? new Registry();
  const registers = [registry];
  if (init.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const requests = new Histogram<'method' | 'route' | 'status'>({
    name: `${METRIC_PREFIX}http_request_duration_seconds`,
    help: 'HTTP requests by method, route and status, and how long they took',
    labelNames: ['method', 'route', 'status'],
    buckets: [...(init.httpBuckets ?? DEFAULT_HTTP_BUCKETS)],
    registers,
  });

  const transitions = new Counter<'state'>({
    name: `${METRIC_PREFIX}task_transitions_total`,
    help: 'Tasks that entered each state',
    labelNames: ['state'],
    registers,
  });

  const { tasksByState } = init;
  if (tasksByState !== undefined) {
    new Gauge<'state'>({
      name: `${METRIC_PREFIX}tasks`,
      help: 'Tasks now in each state',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = tasksByState();
        for (const state of TASK_STATES) this.set({ state }, counts[state] ?? 0);
      },
    });
  }
  gaugeOf(registry, 'ledger_height', 'Height of the last ledger block', init.ledgerHeight);
  gaugeOf(registry, 'p2p_peers', 'Peers connected to the relay over libp2p', init.p2pPeers);
  gaugeOf(registry, 'p2p_reservations', 'Circuit-relay reservations held', init.p2pReservations);
  gaugeOf(registry, 'event_clients', 'Event WebSocket clients connected', init.eventClients);

  const { eventSendsSkipped } = init;
  if (eventSendsSkipped !== undefined) {
    let reported = 0;
    new Counter({
      name: `${METRIC_PREFIX}event_sends_skipped_total`,
      help: 'Events not sent to a client because it was too far behind',
      registers,
      collect() {
        // A counter cannot be set: add what the running total gained since.
        const total = eventSendsSkipped();
        if (total > reported) this.inc(total - reported);
        reported = Math.max(reported, total);
      },
    });
  }

  const timeRequest = (req: IncomingMessage, res: ServerResponse, route: () => string) => {
    const end = requests.startTimer();
    res.once('close', () => {
      end({
        method: req.method ?? '',
        route: route(),
        status: res.writableFinished ? String(res.statusCode) : 'aborted',
      });
    });
  };
  const middleware: RequestHandler = (req, res, next) => {
    timeRequest(req, res, trackRoute(req));
    next();
  };

  const router = express.Router();
  router.get('/metrics', async (_req, res) => {
    const text = await registry.metrics();
    res.setHeader('Content-Type', registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(text);
  });

  return {
    registry,
    middleware,
    router,
    countTask(state) {
      transitions.inc({ state });
    },
    timeRequest,
  };
}

/** A gauge read from `value` at each scrape; nothing when there is no callback. */
function gaugeOf(registry: Registry, name: string, help: string, value: (() => number) | undefined): void {
  if (value === undefined) return;
  new Gauge({
    name: `${METRIC_PREFIX}${name}`,
    help,
    registers: [registry],
    collect() {
      this.set(value());
    },
  });
}

/**
 * The route template a request ends up in, like `/api/tasks/:id`. Express
 * sets `req.route` when a route matches, while `req.baseUrl` still holds the
 * mount path; by the time the response ends an error may have unwound
 * `baseUrl`, so both are read at that moment, through an accessor on `req`.
 */
function trackRoute(req: Request): () => string {
  let route: unknown = undefined;
  let label = NO_ROUTE;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: unknown) {
      route = value;
      const path = (value as { path?: unknown } | undefined)?.path;
      const template = typeof path === 'string' ? path : Array.isArray(path) ? path.join('|') : undefined;
      label = template === undefined ? NO_ROUTE : `${req.baseUrl}${template}`;
    },
  });
  return () => label;
}
