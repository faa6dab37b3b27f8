/**
 * The relay's express app: security headers, the PWA, model files,
 * onnxruntime's WASM, health endpoints, the REST API under /api and one error
 * handler that turns every failure into `{ error: { code, message } }`.
 * Request lanes (see request-lane.ts) answer their hot routes ahead of it,
 * with the same headers, client address and error answers.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { errorHandler, HttpError, toHttpError } from './errors.ts';
import { setRetryAfter } from './rate-limit.ts';
import type { LaneContext, RequestLane } from './request-lane.ts';
import { appFiles, modelFiles, onnxRuntimeFiles } from './static.ts';

export interface HttpAppInit {
  readonly log: Logger;
  /** The built PWA; omitted when there is no build. */
  readonly appDir?: string;
  /** Content-addressed model files. */
  readonly modelsDir: string;
  /** The REST API, mounted at /api. */
  readonly api: Router;
  /** False while starting or stopping: /readyz answers 503. */
  readonly isReady: () => boolean;
  /** Extra origins the page may connect to (the libp2p WebSocket listener). */
  readonly connectSources?: readonly string[];
  /** Handlers that see every request first (metrics). */
  readonly before?: readonly (express.RequestHandler | Router)[];
  /** Lanes that may answer a request before express sees it, in order. Default none. */
  readonly lanes?: readonly RequestLane[];
}

/** The app as a `request` listener for the relay's HTTP(S) server. */
export function createHttpApp(init: HttpAppInit): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  for (const handler of init.before ?? []) app.use(handler);
  const security = helmet({
    // Cross-origin isolation lets onnxruntime-web use WASM threads.
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: { policy: 'require-corp' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
        workerSrc: ["'self'", 'blob:'],
        connectSrc: ["'self'", ...(init.connectSources ?? [])],
        imgSrc: ["'self'", 'data:', 'blob:'],
        styleSrc: ["'self'", "'unsafe-inline'"],
        mediaSrc: ["'self'", 'blob:'],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        upgradeInsecureRequests: null,
      },
    },
  });
  app.use(security);

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', (_req, res) => {
    const ready = init.isReady();
    res.status(ready ? 200 : 503).json({ ready });
  });

  app.use('/api', init.api);
  app.use('/api', (_req, _res, next) => {
    next(new HttpError(404, 'not-found', 'no such API endpoint; see README.md for the API'));
  });
  app.use('/models', modelFiles(init.modelsDir));
  app.use('/ort', onnxRuntimeFiles());
  if (init.appDir !== undefined) app.use(appFiles(init.appDir));

  const logServerError = (error: unknown, url: string | undefined) => {
    init.log.error({ err: error, url }, 'request failed');
  };
  // A rate-limit refusal thrown where no response was at hand (the task
  // service's per-account check) still tells the client when to come back.
  app.use(((error, _req, res, next) => {
    if (!res.headersSent) setRetryAfter(error, res);
    next(error);
  }) satisfies ErrorRequestHandler);
  app.use(
    errorHandler((error, req) => {
      logServerError(error, req.originalUrl);
    }),
  );

  const lanes = init.lanes ?? [];
  if (lanes.length === 0) return app;
  const context = laneContext(app, headersSetBy(security), logServerError);
  return (req, res) => {
    for (const lane of lanes) if (lane(req, res, context)) return;
    void app(req, res);
  };
}

/** What lanes need from the app: see {@link LaneContext}. */
function laneContext(
  app: Express,
  securityHeaders: Readonly<Record<string, string>>,
  logServerError: (error: unknown, url: string | undefined) => void,
): LaneContext {
  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    // As express's res.json writes it (less the ETag, meaningless on these answers).
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...securityHeaders,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  return {
    clientIp: clientIpOf(app),
    sendJson,
    fail(req, res, error) {
      const { status, body } = toHttpError(error);
      if (status >= 500) logServerError(error, req.url);
      if (res.headersSent) res.destroy();
      else {
        setRetryAfter(error, res);
        sendJson(res, status, body);
      }
    },
  };
}

/**
 * `req.ip` as express gives it (the app's `trust proxy` applied by
 * proxy-addr), for requests express never sees: a view of the request on the
 * app's request prototype, with only what that getter reads.
 */
function clientIpOf(app: Express): (req: IncomingMessage) => string {
  return (req) => {
    // Without X-Forwarded-For, proxy-addr answers the socket's address whatever `trust proxy` says.
    if (req.headers['x-forwarded-for'] === undefined) return req.socket.remoteAddress ?? '';
    const view = Object.create(app.request, {
      headers: { value: req.headers },
      socket: { value: req.socket },
    }) as Request;
    return view.ip ?? '';
  };
}

/** The headers a header-only middleware (helmet, which reads nothing from the request) sets, recorded once. */
function headersSetBy(middleware: RequestHandler): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers[name] = String(value);
    },
    removeHeader(name: string) {
      Reflect.deleteProperty(headers, name);
    },
  };
  void middleware(Object.create(express.request) as Request, recorder as unknown as Response, () => undefined);
  return headers;
}
