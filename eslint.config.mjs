// ESLint 9 flat config: eslint recommended + typescript-eslint recommended for the whole project,
// and for workflows/ the rule that keeps workflow code deterministic and sandbox-safe (the idea of
// temporalio/samples-typescript's shared config): no Node built-ins and no module that does I/O.
// Workflows reach activities only through `proxyActivities<typeof activities>()`, so an activity
// module may be imported for its types (`import type`), never for its values.
import { builtinModules, createRequire } from 'node:module';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// @eslint/js is eslint's own dependency; resolve it from there rather than declaring it again.
const requireFromEslint = createRequire(createRequire(import.meta.url).resolve('eslint/package.json'));
const js = requireFromEslint('@eslint/js');

const nodeGlobals = Object.fromEntries(
  [...Object.getOwnPropertyNames(globalThis), 'require', 'module', 'exports', '__dirname', '__filename']
    .filter((name) => /^[A-Za-z_$][\w$]*$/.test(name))
    .map((name) => [name, 'readonly']),
);

const nodeBuiltins = [...new Set(builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`])))];

/** Modules a workflow must not import values from (they do I/O or are not deterministic). */
const nonWorkflowPackages = [
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
  'pg',
  'pg-cursor',
  'better-sqlite3',
  'undici',
  'express',
  'pino',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Node's globals everywhere but in the console's browser code.
    ignores: ['web/**'],
    languageOptions: { globals: nodeGlobals },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Plain CommonJS scripts (scripts/*.js, jest setup, jest.config.js).
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      // `const crypto = require('node:crypto')` is the idiom, not a shadowed global.
      'no-redeclare': ['error', { builtinGlobals: false }],
    },
  },
  {
    // The console's browser code: plain ES modules, browser globals only, no Node.
    files: ['web/**/*.js'],
    languageOptions: { sourceType: 'module', globals: { ...globals.browser } },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({
              name,
              message: 'Workflow code runs in a deterministic sandbox: no Node built-ins. Do this in an activity.',
              allowTypeImports: true,
            })),
            ...nonWorkflowPackages.map((name) => ({
              name,
              message: 'Not workflow code: this module does I/O. Call an activity through proxyActivities instead.',
              allowTypeImports: true,
            })),
          ],
          patterns: [
            {
              regex: '^(\\.\\./)+(activities|store|api|constant-contact|worker|sandbox|bench)(/.*)?$',
              message: 'Workflows import activities as types only (`import type`) and never the store, API, Constant Contact client or worker.',
              allowTypeImports: true,
            },
            {
              regex: '^(\\.\\./)+common/(config|logger|bootstrap)(\\.ts)?$',
              message: 'Configuration and logging are for activities and processes, not workflow code (use `log` from @temporalio/workflow).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
