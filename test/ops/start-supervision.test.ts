import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_LIST_ID } from '../../sandbox/server';
import { requesterFor, type ApiDriver } from '../helpers/app';
import { exitOf, freePorts, interrupt, nothingLeft, npmStart, waitFor, waitForOutput, type NpmStart } from '../helpers/npm-start';
import { expectCountsReconcile, expectedEmails, fixtureProfile, listMembers, setupExport, startRunViaApi, waitForRun } from '../runs/fixtures';

/**
 * `npm start` with the real app (dist/), on its own free ports and data directory, as a newcomer
 * runs it: its own Temporal dev server, the sandbox, one worker and the API. A worker killed in the
 * middle of a run is restarted and the run ends with every contact while the API keeps answering;
 * a child that cannot stay up stops everything with a message naming it.
 */
const runJs = path.resolve(__dirname, '../../scripts/run.js');

const PROFILES = 20_000;
const CHUNK = 1000;

describe('npm start keeps the service up', () => {
  const dirs: string[] = [];
  const running: NpmStart[] = [];
  afterEach(async () => {
    for (const started of running.splice(0)) await interrupt(started.child);
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function start(env: Record<string, string> = {}): Promise<NpmStart & { api: ApiDriver; sandboxUrl: string }> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-supervise-'));
    dirs.push(dataDir);
    const ports = await freePorts();
    const started = npmStart(runJs, { dataDir, ports, env });
    running.push(started);
    const apiUrl = `http://127.0.0.1:${ports.api}`;
    const api: ApiDriver = {
      secrets: new Set(),
      as: (caller) => {
        if (caller === 'none') return requesterFor(apiUrl, undefined);
        const keys = JSON.parse(fs.readFileSync(path.join(dataDir, 'api-keys.json'), 'utf8')) as Record<string, string>;
        return requesterFor(apiUrl, `Bearer ${keys[caller]}`);
      },
    };
    return { ...started, api, sandboxUrl: `http://127.0.0.1:${ports.sandbox}` };
  }

  test('a worker SIGKILLed in the middle of a run is restarted, the run succeeds with every contact, and the API answers throughout', async () => {
    const stack = await start({
      CC_MAX_CONTACTS_PER_IMPORT: String(CHUNK),
      CC_RATE_PER_SECOND: '2', // 20 uploads and their polls take long enough for the kill to land mid-upload
      CC_SANDBOX_IMPORT_MS_PER_CONTACT: '0.5',
    });
    await waitForOutput(stack, /^ready$/m, 240_000);
    const admin = stack.api.as('admin');

    const ndjson = Array.from({ length: PROFILES }, (_, i) => {
      const f = fixtureProfile(i);
      return JSON.stringify({ id: f.id, ...f.attributes });
    }).join('\n');
    const imported = await admin.post('/v1/profiles/import', undefined, { raw: ndjson, contentType: 'application/x-ndjson' });
    expect(imported.body).toMatchObject({ received: PROFILES, upserted: PROFILES });
    const { exportId } = await setupExport(stack.api);
    const run = await startRunViaApi(stack.api, exportId);
    await waitForRun(stack.api, run.id, { timeoutMs: 120_000, until: (r) => r.counts.sent >= 3 * CHUNK || r.status !== 'running' });

    const poll = pollApi(stack.api, run.id);
    const worker = stack.startedPid('worker');
    const apiPid = stack.startedPid('api');
    const printedBeforeKill = stack.out.text.length;
    process.kill(worker, 'SIGKILL');
    const atKill = await waitForRun(stack.api, run.id, { until: () => true });
    const expected = expectedEmails(PROFILES);
    expect(atKill).toMatchObject({ status: 'running', progress: { phase: 'uploading' } });
    expect(atKill.counts.sent).toBeLessThan(expected.emails.size - 2 * CHUNK);

    // The restart after the kill, not one before it.
    const afterKill = { child: stack.child, out: { get text() { return stack.out.text.slice(printedBeforeKill); } } };
    const restarted = Number((await waitForOutput(afterKill, /worker restarted \(pid (\d+)\)/, 60_000))[1]);
    expect(restarted).not.toBe(worker);
    expect(stack.out.text).toMatch(/worker exited unexpectedly \(SIGKILL\); restarting it in 0\.5 s/);

    const ended = await waitForRun(stack.api, run.id, { timeoutMs: 300_000 });
    const answered = await poll.stop();
    expect(answered.failures).toEqual([]);
    expect(answered.requests).toBeGreaterThan(50);
    expect(stack.startedPid('api')).toBe(apiPid); // never restarted: it answered from the same process

    expect(ended).toMatchObject({ status: 'succeeded', error: null });
    expect(ended.counts).toMatchObject({ segmentProfiles: PROFILES, sent: expected.emails.size, rejected: expected.rejected, duplicates: expected.duplicates });
    expectCountsReconcile(ended.counts);
    const sandboxAddress = { port: stack.ports.sandbox, baseUrl: stack.sandboxUrl, apiBaseUrl: `${stack.sandboxUrl}/v3`, authBaseUrl: `${stack.sandboxUrl}/oauth2/default/v1` };
    const members = await listMembers({ sandboxAddress }, DEFAULT_LIST_ID);
    const emails = new Set(members.map((m) => m.email.toLowerCase()));
    expect(members.length).toBe(expected.emails.size);
    expect([...expected.emails].filter((e) => !emails.has(e))).toEqual([]);

    // Ctrl-C still stops everything, the restarted worker included.
    const pids = [restarted, apiPid, stack.startedPid('sandbox'), stack.startedPid('temporal')];
    stack.child.kill('SIGINT');
    expect(await exitOf(stack.child)).toBe(0);
    expect(await nothingLeft(pids, Object.values(stack.ports))).toBe(true);
  }, 600_000);

  test('a child that keeps exiting (the sandbox, its port taken) stops everything with a message naming it', async () => {
    const blocker = net.createServer();
    const ports = await freePorts();
    await new Promise<void>((resolve) => blocker.listen(ports.sandbox, '127.0.0.1', () => resolve()));
    try {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-supervise-'));
      dirs.push(dataDir);
      const started = npmStart(runJs, { dataDir, ports });
      running.push(started);
      await waitForOutput(started, /sandbox exited 5 times within 60 s \(last: code 1\); it does not stay up, so everything stops/, 240_000);
      expect(await exitOf(started.child)).toBe(1);
      expect(started.out.text).toMatch(/sandbox +\| .*EADDRINUSE/); // its last lines say why
      expect(started.out.text.match(/sandbox exited unexpectedly/g)).toHaveLength(4);
      const pids = ['temporal', 'worker', 'api'].map((name) => started.startedPid(name));
      await waitFor(() => nothingLeft(pids, [ports.api, ports.grpc, ports.ui]), 30_000, started);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 300_000);
});

/** GET /healthz and a /v1 read every 100 ms until stopped; every answer but a 200 is a failure. */
function pollApi(api: ApiDriver, runId: string): { stop(): Promise<{ requests: number; failures: string[] }> } {
  let stopped = false;
  let requests = 0;
  const failures: string[] = [];
  const once = async (name: string, get: () => Promise<{ status: number }>) => {
    requests++;
    try {
      const res = await get();
      if (res.status !== 200) failures.push(`${name}: ${res.status}`);
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await Promise.all([once('/healthz', () => api.as('none').get('/healthz')), once(`/v1/runs/${runId}`, () => api.as('admin').get(`/v1/runs/${runId}`))]);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { requests, failures };
    },
  };
}
