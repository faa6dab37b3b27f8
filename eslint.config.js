// @ts-check
import js from '@eslint/js';
import lit from 'eslint-plugin-lit';
import globals from 'globals';
import tseslint from 'typescript-eslint';

import { dirname, relative, resolve } from 'node:path';
import { readFileSync } from 'node:fs';

// Globals that exist only in a page (not in Node, a Web Worker or a service
// worker): shared/ must not touch them.
const domOnlyGlobals = [
  'window',
  'document',
  'navigator',
  'location',
  'localStorage',
  'sessionStorage',
  'indexedDB',
  'self',
  'importScripts',
  'alert',
  'HTMLElement',
  'customElements',
  'Buffer',
  'process',
  'require',
  '__dirname',
  '__filename',
].map((name) => ({ name, message: 'shared/ is isomorphic: pass platform objects in from the caller.' }));

// The protocol core does no I/O of any kind: the network and storage are the
// client layer's and the adapters' business.
const ioGlobals = ['fetch', 'WebSocket', 'EventSource', 'XMLHttpRequest', 'caches', 'Worker'].map((name) => ({
  name,
  message: 'shared/core/ does no I/O: the client layer (shared/client/) or an adapter does it.',
}));

/**
 * The layers, innermost first, and what each may import. A file belongs to
 * the longest folder that contains it; `test/` may import anything.
 */
const LAYERS = {
  'shared/core/': ['shared/core/'],
  'shared/client/': ['shared/core/', 'shared/client/'],
  'shared/browser-storage/': ['shared/core/', 'shared/client/', 'shared/browser-storage/'],
  'web/': ['shared/core/', 'shared/client/', 'shared/browser-storage/', 'web/'],
  'sw/': ['shared/core/', 'shared/client/', 'shared/browser-storage/', 'sw/'],
  'relay/node/': ['shared/core/', 'shared/client/', 'relay/node/'],
  'relay/server/': ['shared/core/', 'shared/client/', 'relay/node/', 'relay/server/'],
  'relay/worker/': ['shared/core/', 'shared/client/', 'relay/node/', 'relay/worker/'],
  'relay/acn/': ['shared/core/', 'shared/client/', 'relay/node/', 'relay/acn/'],
  'relay/model-tools/': ['shared/core/', 'shared/client/', 'relay/node/', 'relay/model-tools/'],
};
const layerOf = (path) =>
  Object.keys(LAYERS)
    .filter((layer) => path.startsWith(layer))
    .sort((a, b) => b.length - a.length)[0];

/** package.json `imports`: `#core/x.ts` -> `shared/core/x.ts`. */
const ALIASES = Object.entries(
  /** @type {{ imports: Record<string, string> }} */ (JSON.parse(readFileSync('package.json', 'utf8'))).imports,
).map(([from, to]) => [from.replace(/\*$/, ''), to.replace(/^\.\//, '').replace(/\*$/, '')]);

/** Resolves an import specifier to a path from the repository root, or undefined for a package. */
function resolveSpecifier(importer, specifier) {
  const alias = ALIASES.find(([from]) => specifier.startsWith(from));
  if (alias) return alias[1] + specifier.slice(alias[0].length);
  if (!specifier.startsWith('.')) return undefined;
  return relative(import.meta.dirname, resolve(dirname(importer), specifier))
    .split('\\')
    .join('/');
}

/**
 * Fails the lint when a module imports a layer it must not see (the table
 * above): the core sees nothing outside itself, no program in relay/ sees
 * another, the service worker does not see the app. It reads relative paths
 * and package.json aliases alike, for static imports, re-exports and
 * dynamic imports. (eslint's no-restricted-imports matches specifier text,
 * which cannot tell where `../x` lands.)
 */
const layersRule = {
  meta: { type: 'problem', schema: [], messages: { fence: '{{from}} must not import {{to}} ({{specifier}}).' } },
  create(context) {
    const importer = context.filename;
    const from = layerOf(
      relative(import.meta.dirname, importer)
        .split('\\')
        .join('/'),
    );
    if (!from) return {};
    const allowed = LAYERS[from];
    const check = (node) => {
      const source = node.source;
      if (source?.type !== 'Literal' || typeof source.value !== 'string') return;
      const target = resolveSpecifier(importer, source.value);
      if (target === undefined) return;
      const to = layerOf(target) ?? target.split('/').slice(0, 2).join('/');
      if (!allowed.some((layer) => target.startsWith(layer))) {
        context.report({ node: source, messageId: 'fence', data: { from, to, specifier: source.value } });
      }
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};
const layersPlugin = { rules: { layers: layersRule } };

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'test-results/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '.ci/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      // Conflicts with no-non-null-assertion; an explicit `as T` reads better at the few places it is needed.
      '@typescript-eslint/non-nullable-type-assertion-style': 'off',
    },
  },
  {
    files: ['shared/**/*.ts', 'web/**/*.ts', 'sw/**/*.ts', 'relay/**/*.ts'],
    plugins: { acn: layersPlugin },
    rules: { 'acn/layers': 'error' },
  },
  {
    files: ['shared/client/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...domOnlyGlobals],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:*'], message: 'shared/ runs in browsers too: no node:* imports.' }] },
      ],
    },
  },
  {
    // The page, Web Workers and the service worker all open the browser storage: no DOM, no Node.
    files: ['shared/browser-storage/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...domOnlyGlobals.filter(({ name }) => !['self', 'location', 'indexedDB', 'navigator'].includes(name)),
      ],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:*'], message: 'shared/ runs in browsers too: no node:* imports.' }] },
      ],
    },
  },
  {
    files: ['shared/core/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...domOnlyGlobals, ...ioGlobals],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'shared/ runs in browsers too: no node:* imports.' },
            {
              group: ['libp2p', '@libp2p/*', '@chainsafe/*', 'idb', 'lit', '@lit/*', 'workbox-*', 'onnxruntime-*'],
              message:
                'shared/core/ is the pure protocol core: networks, storage, UI and runtimes are the outer layers.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  { files: ['web/**/*.ts'], ...lit.configs['flat/recommended'] },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js'], languageOptions: { globals: globals.node } },
);
