import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const run = require('../../scripts/run.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const temporal = require('../../scripts/temporal.js');

describe('the closing line of npm test', () => {
  it('counts passed and failed tests and names the failures', () => {
    const s = run.summarizeJest({
      numPassedTests: 7,
      numFailedTests: 1,
      testResults: [
        {
          name: path.resolve(__dirname, 'a.test.ts'),
          status: 'failed',
          assertionResults: [
            { status: 'passed', fullName: 'x works' },
            { status: 'failed', fullName: 'rejects a mapping without email' },
          ],
        },
      ],
    });
    expect(s.line).toBe('Tests: 7 passed, 1 failed');
    expect(s.failedNames).toEqual(['test/ops/a.test.ts: rejects a mapping without email']);
  });

  it('counts a suite that failed to run as a failure', () => {
    const s = run.summarizeJest({
      numPassedTests: 3,
      numFailedTests: 0,
      testResults: [{ name: path.resolve(__dirname, 'broken.test.ts'), status: 'failed', message: '\n  SyntaxError: Unexpected token\n', assertionResults: [] }],
    });
    expect(s.line).toBe('Tests: 3 passed, 1 failed');
    expect(s.failedNames[0]).toContain('(suite failed to run) SyntaxError: Unexpected token');
  });
});

describe('generated API keys and SECRETS_KEY', () => {
  let dir: string;
  const saved = { API_KEYS: process.env.API_KEYS, SECRETS_KEY: process.env.SECRETS_KEY };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-keys-'));
    delete process.env.API_KEYS;
    delete process.env.SECRETS_KEY;
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('generates one admin and one contributor key once, mode 0600, and reuses them', () => {
    const first = run.ensureApiKeys(dir);
    expect(first.created).toBe(true);
    expect(first.apiKeys).toMatch(/^admin:\S{16,},contributor:\S{16,}$/);
    expect(fs.statSync(path.join(dir, 'api-keys.json')).mode & 0o777).toBe(0o600);
    const second = run.ensureApiKeys(dir);
    expect(second.created).toBe(false);
    expect(second.apiKeys).toBe(first.apiKeys);
  });

  it('leaves API_KEYS alone when it is set', () => {
    process.env.API_KEYS = 'admin:0123456789abcdef0123';
    expect(run.ensureApiKeys(dir)).toMatchObject({ apiKeys: 'admin:0123456789abcdef0123', file: null });
    expect(fs.existsSync(path.join(dir, 'api-keys.json'))).toBe(false);
  });

  it('generates a 64-hex SECRETS_KEY once, mode 0600, and refuses a corrupt one', () => {
    const first = run.ensureSecretsKey(dir);
    expect(first.secretsKey).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.statSync(path.join(dir, 'secrets-key')).mode & 0o777).toBe(0o600);
    expect(run.ensureSecretsKey(dir).secretsKey).toBe(first.secretsKey);
    fs.writeFileSync(path.join(dir, 'secrets-key'), 'not hex');
    expect(() => run.ensureSecretsKey(dir)).toThrow(/64 hex characters/);
  });
});

describe('configuration read by run.js', () => {
  it('derives the dev server ports from TEMPORAL_ADDRESS and TEMPORAL_UI_URL', () => {
    expect(run.temporalTarget({})).toMatchObject({ address: '127.0.0.1:7233', port: 7233, uiPort: 8233, local: true, namespace: 'default' });
    expect(run.temporalTarget({ TEMPORAL_ADDRESS: 'localhost:7300', TEMPORAL_UI_URL: 'http://127.0.0.1:9000' })).toMatchObject({ port: 7300, uiPort: 9000, local: true });
    expect(run.temporalTarget({ TEMPORAL_ADDRESS: 'temporal:7233' })).toMatchObject({ host: 'temporal', local: false });
  });

  it('uses the sandbox unless both CC_CLIENT_ID and CC_CLIENT_SECRET are set', () => {
    expect(run.realConstantContact({})).toBe(false);
    expect(run.realConstantContact({ CC_CLIENT_ID: 'id' })).toBe(false);
    expect(run.realConstantContact({ CC_CLIENT_ID: 'id', CC_CLIENT_SECRET: 's' })).toBe(true);
    expect(run.realConstantContact({ CC_CLIENT_ID: 'id', CC_CLIENT_SECRET: 's', CC_SANDBOX: 'true' })).toBe(false);
  });

  it('shows pino lines of the children readably', () => {
    expect(run.formatLine('api', '{"level":30,"time":1,"pid":2,"hostname":"h","msg":"listening","port":3000}')).toBe('api     | INFO listening {"port":3000}');
    expect(run.formatLine('worker', 'plain text')).toBe('worker  | plain text');
  });
});

describe('the Temporal CLI cache', () => {
  it('lives outside the repository, per version, under XDG_CACHE_HOME when set', () => {
    const saved = process.env.XDG_CACHE_HOME;
    try {
      process.env.XDG_CACHE_HOME = path.join(os.tmpdir(), 'xdg');
      expect(temporal.cachedCliPath('1.5.1')).toBe(path.join(os.tmpdir(), 'xdg', 'segment-export', 'temporal-cli', 'v1.5.1', 'temporal'));
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });
});
