// @ts-check
import js from '@eslint/js';
import lit from 'eslint-plugin-lit';
import globals from 'globals';
import tseslint from 'typescript-eslint';

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
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...domOnlyGlobals],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'shared/ runs in browsers too: no node:* imports.' },
            {
              group: ['**/web/**', '**/relay/**', '**/sw/**'],
              message: 'shared/ must not depend on web/, relay/ or sw/.',
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
