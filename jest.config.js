/**
 * Two jest projects:
 * - unit: files named *.unit.test.ts. Pure code, in-process servers (the sandbox) and SQLite; no
 *   Temporal server, no PostgreSQL, no child process. `npm run test:unit` runs only these.
 * - integration: every other *.test.ts, against the real Temporal dev server, PostgreSQL and child
 *   processes. Its global setup starts the dev server; jest runs a project's global setup only when
 *   at least one of its tests is selected, so the unit project alone starts none.
 */
const shared = {
  testEnvironment: 'node',
  rootDir: __dirname,
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  testTimeout: 120000,
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120000,
  maxWorkers: 2,
  // A worker that has grown past this after a test file is replaced: the heap a worker piles up
  // over many files can make its full collections long enough to show in the latency tests.
  workerIdleMemoryLimit: '768MB',
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['**/*.unit.test.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.unit\\.test\\.ts$'],
      globalSetup: '<rootDir>/test/global-setup.js',
      globalTeardown: '<rootDir>/test/global-teardown.js',
    },
  ],
};
