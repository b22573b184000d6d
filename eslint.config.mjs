// ESLint 9 flat config: eslint recommended + typescript-eslint recommended for the whole project,
// and the import boundaries of every folder (docs/architecture.md, "Layers"):
// - the layers, top to bottom: api, worker → workflows, activities → services → constant-contact,
//   store → common. A folder imports from the layers below its own, never from above, and not from
//   the other folder of its own layer (two exceptions, for types only, below);
// - the product never imports the tools (sandbox, bench, scripts, test), and the sandbox, a
//   stand-in for Constant Contact, shares no code with the product it stands in for;
// - workflows/ is deterministic and sandbox-safe (the idea of temporalio/samples-typescript's
//   shared config): no Node built-ins and no module that does I/O. Workflows reach activities only
//   through `proxyActivities<typeof activities>()`, so they import types from the layers below and
//   values only from workflow code and services/contracts.ts.
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
  'better-sqlite3',
  'undici',
  'express',
  'pino',
];

/** The layers of the product, top to bottom. */
const LAYERS = [['api', 'worker'], ['workflows', 'activities'], ['services'], ['constant-contact', 'store'], ['common']];
const PRODUCT = LAYERS.flat();
const TOOLS = ['sandbox', 'bench', 'scripts', 'test'];
/** Imports across one layer, of types only: the Constant Contact client takes the store's repositories as injected types. */
const TYPE_ONLY = { 'constant-contact': ['store'] };

/** A relative import of one of `folders` (at any depth: `../store`, `../../store/runs`). */
const into = (folders) => `^(\\.\\./)+(${folders.join('|')})(/.*)?$`;

/** The import patterns a product folder breaks: same layer or above, and the tools. */
function forbiddenFor(folder) {
  const layer = LAYERS.findIndex((l) => l.includes(folder));
  const typesOnly = TYPE_ONLY[folder] ?? [];
  const notBelow = LAYERS.slice(0, layer + 1).flat().filter((f) => f !== folder && !typesOnly.includes(f));
  const below = LAYERS.slice(layer + 1).flat().join(', ') || 'nothing of the product';
  return [
    {
      regex: into([...notBelow, ...TOOLS]),
      message: `${folder}/ imports only from the layers below it (${below}); see docs/architecture.md, "Layers".`,
    },
    ...(typesOnly.length
      ? [{ regex: into(typesOnly), allowTypeImports: true, message: `${folder}/ imports ${typesOnly.join(', ')} for types only (\`import type\`).` }]
      : []),
  ];
}

const restrict = (files, patterns, paths = []) => ({
  files,
  rules: {
    'no-restricted-imports': 'off',
    '@typescript-eslint/no-restricted-imports': ['error', { paths, patterns }],
  },
});

const boundaries = [
  ...PRODUCT.filter((f) => f !== 'workflows').map((folder) =>
    restrict(
      [`${folder}/**/*.ts`],
      forbiddenFor(folder),
      folder === 'common'
        ? ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/workflow'].map((name) => ({
            name,
            message: 'common/ is the ground floor: no Temporal here (services/ talks to Temporal).',
          }))
        : [],
    ),
  ),
  restrict(['sandbox/**/*.ts'], [{ regex: into(PRODUCT), message: 'The sandbox stands in for Constant Contact: it shares no code with the product it is tested against.' }]),
  restrict(
    ['workflows/**/*.ts'],
    [
      { regex: into(['api', 'worker', ...TOOLS]), message: 'Workflows import only from the layers below them; see docs/architecture.md, "Layers".' },
      {
        regex: into(['activities', 'constant-contact', 'store', 'common']),
        allowTypeImports: true,
        message: 'Workflows import activities, the store, the Constant Contact client and common/ as types only (`import type`); call activities through proxyActivities.',
      },
      {
        regex: '^(\\.\\./)+services(?!/contracts$)(/.*)?$',
        allowTypeImports: true,
        message: 'Of services/, workflows import values only from services/contracts (deterministic code); the rest as types only.',
      },
    ],
    [
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
  ),
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
  ...boundaries,
  {
    // The console's browser code: plain ES modules, browser globals only, no Node.
    files: ['web/**/*.js'],
    languageOptions: { sourceType: 'module', globals: { ...globals.browser } },
  },
);
