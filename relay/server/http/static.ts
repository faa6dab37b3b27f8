/**
 * Static files: the built PWA with correct caching, content-addressed model
 * files (immutable, with range requests) and onnxruntime-web's WASM files.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import compression from 'compression';
import express, { type Router } from 'express';
import { parseHash } from '#core/identity/ids.ts';
import { HttpError } from './errors.ts';

const YEAR = 365 * 24 * 60 * 60;
/** Files that must be revalidated so a new version of the app is picked up. */
const NO_CACHE = /(^|\/)(index\.html|sw\.js|manifest\.webmanifest|registerSW\.js)$/;

/** The app's own routes (`/run`, `/tasks/<id>`…): the page loads index.html and routes itself. */
const APP_ROUTE = /^\/(chat|run|tasks|wallet|contribute|network)(\/[\w-]*)?\/?$/;

/**
 * The built app in `appDir`: hashed assets immutable; the shell, the service
 * worker and the manifest no-cache; the app's routes get the shell.
 */
export function appFiles(appDir: string): Router {
  const router = express.Router();
  // gzip for the app's scripts, styles and HTML: a phone on a slow link gets a third of the bytes.
  router.use(compression());
  router.get(APP_ROUTE, (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile('index.html', { root: appDir });
  });
  router.use(
    express.static(appDir, {
      index: 'index.html',
      setHeaders(res, path) {
        if (NO_CACHE.test(path)) res.setHeader('Cache-Control', 'no-cache');
        else if (path.includes('/assets/')) res.setHeader('Cache-Control', `public, max-age=${YEAR}, immutable`);
        else res.setHeader('Cache-Control', 'public, max-age=3600');
      },
    }),
  );
  return router;
}

/** `GET /models/<sha256>`: the bytes never change for a hash, so they are cached forever; Range is supported. */
export function modelFiles(modelsDir: string): Router {
  const router = express.Router();
  router.get('/:hash', (req, res, next) => {
    const hash = parseHash(req.params.hash);
    if (!hash.ok) {
      next(new HttpError(404, 'not-found', 'no model file with that hash'));
      return;
    }
    res.sendFile(
      hash.value,
      {
        root: modelsDir,
        maxAge: YEAR * 1000,
        immutable: true,
        acceptRanges: true,
        headers: { 'Content-Type': 'application/octet-stream' },
      },
      (error) => {
        if (error) next(new HttpError(404, 'not-found', 'no model file with that hash'));
      },
    );
  });
  return router;
}

/** onnxruntime-web's `.wasm` and `.mjs` files, served by the relay itself (`.mjs` as JavaScript). */
export function onnxRuntimeFiles(): Router {
  const require = createRequire(import.meta.url);
  // The package's main file sits in its dist/ folder, beside the .wasm and .mjs files.
  const dist = dirname(require.resolve('onnxruntime-web'));
  return express.Router().use(
    // The wasm files (14 and 28 MB) shrink to about a quarter with gzip.
    compression({ filter: () => true }),
    express.static(dist, {
      maxAge: '1d',
      setHeaders(res, path) {
        if (path.endsWith('.mjs')) res.setHeader('Content-Type', 'text/javascript');
      },
    }),
  );
}
