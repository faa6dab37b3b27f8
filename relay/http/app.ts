/**
 * The relay's express app: security headers, the PWA, model files,
 * onnxruntime's WASM, health endpoints, the REST API under /api and one error
 * handler that turns every failure into `{ error: { code, message } }`.
 */
import express, { type Express, type Router } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { errorHandler, HttpError } from './errors.ts';
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
}

export function createHttpApp(init: HttpAppInit): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  for (const handler of init.before ?? []) app.use(handler);
  app.use(
    helmet({
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
    }),
  );

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

  app.use(
    errorHandler((error, req) => {
      init.log.error({ err: error, url: req.originalUrl }, 'request failed');
    }),
  );
  return app;
}
