import { createReadStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { playwright } from '@vitest/browser-playwright';
import { VitePWA } from 'vite-plugin-pwa';
import { defaultClientConditions } from 'vite';
import { defineConfig, type Plugin } from 'vitest/config';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '#test/chromium.ts';
import { webManifest } from '#web/manifest.ts';

/**
 * `vite build` (and `vite` for development) builds the app; vitest (mode
 * `test`) and the benchmark pages (mode `bench`) read this same file without
 * the app's root and plugins.
 */
const isAppMode = (mode: string) => mode !== 'test' && mode !== 'bench';
const ortVersion = (
  JSON.parse(readFileSync('node_modules/onnxruntime-web/package.json', 'utf8')) as { version: string }
).version;

/**
 * Serves the built model files (named by their hash, without an extension) as
 * raw bytes to the browser tests; vite would otherwise try to compile them.
 */
function builtModels(): Plugin {
  return {
    name: 'acn-built-models',
    configureServer(server) {
      server.middlewares.use('/dist/models/', (req, res, next) => {
        const name = (req.url ?? '').replace(/^\//, '').split('?')[0] ?? '';
        if (!/^([0-9a-f]{64}|catalogue\.json)$/.test(name)) {
          next();
          return;
        }
        const file = `dist/models/${name}`;
        stat(file).then(
          (info) => {
            res.setHeader('Content-Type', name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
            res.setHeader('Content-Length', String(info.size));
            createReadStream(file).pipe(res);
          },
          () => {
            res.statusCode = 404;
            res.end();
          },
        );
      });
    },
  };
}

/**
 * The first paint waits for the entry script (`blocking="render"`), so the
 * shell appears once, drawn by the app, instead of the HTML's placeholder
 * frame followed a moment later by a second layout of the same frame.
 * Vite writes the entry's script tag itself, hence a plugin.
 */
function renderBlockingEntry(): Plugin {
  return {
    name: 'acn-render-blocking-entry',
    transformIndexHtml: {
      order: 'post',
      handler: (html) =>
        html.replace(/<script type="module" (crossorigin )?src=/, '<script type="module" blocking="render" $1src='),
    },
  };
}

export default defineConfig(({ mode }) => {
  const buildingApp = isAppMode(mode);
  return {
    // The app lives in web/ (index.html there), its static files in public/, and
    // the build goes to dist/app, which the relay serves.
    ...(buildingApp
      ? {
          root: 'web',
          publicDir: '../public',
          // The app's onnxruntime-web loads its wasm and that wasm's loader from
          // the relay (`/ort/`, cached by the service worker): without this
          // condition the bundle would embed the loader and copy in a 28 MB
          // wasm that nothing fetches.
          resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
        }
      : {}),
    build: {
      outDir: '../dist/app',
      emptyOutDir: true,
      target: 'es2023',
      // The budget is checked by `npm run bench`; pages, libp2p and onnxruntime are lazy chunks.
      chunkSizeWarningLimit: 1024,
      modulePreload: {
        // Vite preloads a dynamic import's chunks by adding a <link
        // rel=modulepreload> per chunk, which costs the main thread about a
        // millisecond each. The services module is loaded after the first
        // screen and imports its chunks directly (one level), so the browser
        // fetches them in one round trip anyway: no links for it.
        resolveDependencies: (filename, deps) => (/\/app-services-[\w-]+\.js$/.test(filename) ? [] : deps),
      },
    },
    worker: { format: 'es' },
    define: { __ORT_VERSION__: JSON.stringify(ortVersion) },
    plugins: buildingApp
      ? [
          renderBlockingEntry(),
          VitePWA({
            strategies: 'injectManifest',
            srcDir: '../sw',
            filename: 'sw.ts',
            // main.ts registers the worker itself through workbox-window (update prompt).
            injectRegister: false,
            manifest: webManifest,
            // Icons (192, 512, maskable 512, Apple touch icon, favicon) generated from one image.
            pwaAssets: {
              image: '../public/icon.svg',
              preset: 'minimal-2023',
              overrideManifestIcons: true,
              // index.html has its own theme-color meta.
              injectThemeColor: false,
            },
            injectManifest: {
              // A classic script: module service workers are not in every browser people run.
              rollupFormat: 'iife',
              // The app shell only: models and onnxruntime's wasm are cached at run time by hash.
              globPatterns: ['**/*.{js,css,html,svg,png,ico}'],
              globIgnores: ['**/ort-*.{js,mjs}', 'screenshots/**'],
            },
          }),
        ]
      : [builtModels()],
    // Pre-bundle every dependency the browser tests import, so vite never
    // re-optimises (and reloads the page) in the middle of a run.
    optimizeDeps: {
      include: [
        '@ipld/dag-cbor',
        '@libp2p/crypto/keys',
        '@lit/context',
        '@lit/task',
        '@libp2p/peer-id',
        '@noble/curves/ed25519.js',
        '@noble/curves/secp256k1.js',
        '@noble/curves/utils.js',
        '@noble/hashes/sha2.js',
        '@noble/hashes/utils.js',
        'fast-check',
        'idb',
        'immutable',
        'lit',
        'lit/decorators.js',
        'lit/directives/if-defined.js',
        'lit/directives/unsafe-html.js',
        'multiformats/bases/base58',
        'multiformats/bases/base64',
        'uplot',
        'uqr',
        'valibot',
        'workbox-window',
      ],
    },
    test: {
      // A JSON summary beside the console output, read by .ci/run for its last line.
      reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
      // Builds the shipped models into dist/models when their sources changed (the
      // app tests build dist/app themselves: test/support/build-app.ts).
      globalSetup: ['test/support/build-models.ts'],
      // Model tests run real inference; the default 5 s is too short on 2 busy cores.
      testTimeout: 60_000,
      // Three tiers. Unit tests (test/unit, mirroring the source tree) and the
      // model tests (test/models: real inference) run in-process; the protocol
      // core and client layer run twice, in Node and in headless Chromium,
      // because they must behave the same in both. End-to-end tests (test/e2e)
      // start the relay as a process or drive Chromium through playwright.
      projects: [
        {
          extends: true,
          test: {
            name: 'unit',
            environment: 'node',
            include: [
              'test/unit/shared/core/**/*.test.ts',
              'test/unit/shared/client/**/*.test.ts',
              'test/unit/relay/**/*.test.ts',
              'test/models/**/*.test.ts',
            ],
          },
        },
        {
          extends: true,
          test: {
            name: 'unit-chromium',
            include: ['test/unit/shared/**/*.test.ts', 'test/unit/web/**/*.test.ts', 'test/models/**/*.test.ts'],
            browser: {
              enabled: true,
              headless: true,
              screenshotFailures: false,
              provider: playwright({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } }),
              instances: [{ browser: 'chromium' }],
            },
          },
        },
        {
          extends: true,
          test: { name: 'e2e', environment: 'node', include: ['test/e2e/**/*.test.ts'] },
        },
      ],
    },
  };
});
