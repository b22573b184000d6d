import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { exitOf, freePorts, interrupt, nothingLeft, npmStart, waitFor, waitForOutput, type NpmStart } from '../helpers/npm-start';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const temporal = require('../../scripts/temporal.js');

/**
 * `npm start` end to end with stand-in entry points: scripts/run.js is copied into a scratch
 * project whose dist/ holds tiny api/worker/sandbox programs, so this tests the orchestration
 * (dev server, children, readiness, generated keys, restarts, Ctrl-C) independently of the real
 * app. test/ops/start-supervision.test.ts does the same with the real app.
 */
const repoRoot = path.resolve(__dirname, '../..');

const STUB = (name: string) => `
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
fs.writeFileSync(path.join(process.env.DATA_DIR, '${name}.pid'), String(process.pid));
fs.writeFileSync(path.join(process.env.DATA_DIR, '${name}.env'), JSON.stringify({
  API_KEYS: process.env.API_KEYS, SECRETS_KEY: process.env.SECRETS_KEY, TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
  TEMPORAL_UI_URL: process.env.TEMPORAL_UI_URL, DATA_DIR: process.env.DATA_DIR }));
const port = ${name === 'api' ? 'Number(process.env.PORT)' : name === 'sandbox' ? 'Number(process.env.CC_SANDBOX_PORT)' : 'null'};
let server = null;
if (port) server = http.createServer((req, res) => { res.writeHead(200); res.end('{"status":"ok"}'); }).listen(port, '127.0.0.1');
console.log(JSON.stringify({ level: 30, time: Date.now(), msg: '${name} started' }));
const keepAlive = setInterval(() => {}, 1000);
// STUB_IGNORES_SIGTERM=<name>: that stub never stops by itself, as a worker stuck in a long drain.
process.on('SIGTERM', () => { if (process.env.STUB_IGNORES_SIGTERM === '${name}') return; clearInterval(keepAlive); if (server) server.close(); process.exit(0); });
`;

describe('npm start (scripts/run.js start)', () => {
  let root: string;
  let dataDir: string;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-runjs-'));
    dataDir = path.join(root, 'data');
    fs.mkdirSync(path.join(root, 'scripts'));
    const scripts = fs.readdirSync(path.join(repoRoot, 'scripts')).filter((f) => f.endsWith('.js'));
    for (const f of scripts) fs.copyFileSync(path.join(repoRoot, 'scripts', f), path.join(root, 'scripts', f));
    fs.mkdirSync(path.join(root, 'node_modules', 'typescript'), { recursive: true });
    for (const name of ['api', 'worker', 'sandbox']) {
      fs.mkdirSync(path.join(root, 'dist', name), { recursive: true });
      fs.writeFileSync(path.join(root, 'dist', name, 'main.js'), STUB(name));
    }
    fs.writeFileSync(path.join(root, 'dist', '.build-stamp'), 'stub\n');
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  // A test that fails half-way leaves nothing running.
  const running: NpmStart[] = [];
  afterEach(async () => {
    for (const started of running.splice(0)) await interrupt(started.child);
  });

  // Ports of its own for each start: held from one test to the next, a port freed by one start could
  // be taken by another suite running beside this one before the next start binds it.
  async function start(env: Record<string, string> = {}): Promise<NpmStart> {
    // `ready` waits for the API only: a worker stub may write its pid file just after, and a file
    // left by the previous test would name a process that is gone.
    for (const name of ['api', 'worker', 'sandbox']) fs.rmSync(path.join(dataDir, `${name}.pid`), { force: true });
    const started = npmStart(path.join(root, 'scripts', 'run.js'), { dataDir, ports: await freePorts(), env });
    running.push(started);
    return started;
  }

  const pidOf = (name: string) => Number(fs.readFileSync(path.join(dataDir, `${name}.pid`), 'utf8'));
  const pidsOf = async (started: NpmStart, names: string[]) => {
    await waitFor(() => names.every((name) => fs.existsSync(path.join(dataDir, `${name}.pid`))), 10000, started);
    return names.map(pidOf);
  };

  it('starts everything, prints the URLs and generated keys, and Ctrl-C leaves no process behind', async () => {
    const started = await start();
    const { child, out, ports } = started;
    await waitForOutput(started, /^ready$/m, 120000);

    expect(out.text).toContain(`http://127.0.0.1:${ports.api}`);
    expect(out.text).toContain(`http://127.0.0.1:${ports.ui}`);
    const keys = JSON.parse(fs.readFileSync(path.join(dataDir, 'api-keys.json'), 'utf8'));
    expect(out.text).toContain(keys.admin);
    expect(out.text).toContain(keys.contributor);
    expect(fs.statSync(path.join(dataDir, 'api-keys.json')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dataDir, 'secrets-key')).mode & 0o777).toBe(0o600);
    const apiEnv = JSON.parse(fs.readFileSync(path.join(dataDir, 'api.env'), 'utf8'));
    expect(apiEnv.API_KEYS).toBe(`admin:${keys.admin},contributor:${keys.contributor}`);
    expect(apiEnv.SECRETS_KEY).toMatch(/^[0-9a-f]{64}$/);
    expect(apiEnv.TEMPORAL_ADDRESS).toBe(`127.0.0.1:${ports.grpc}`);
    await waitForOutput(started, /worker\s+\| INFO worker started/, 10000);

    const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
    expect(ui.status).toBe(200);
    const pids = await pidsOf(started, ['api', 'worker', 'sandbox']);
    expect(pids.every((p) => temporal.pidAlive(p))).toBe(true);

    child.kill('SIGINT');
    expect(await exitOf(child)).toBe(0);
    for (const p of pids) expect(temporal.pidAlive(p)).toBe(false);
    for (const port of Object.values(ports)) expect(await temporal.isListening('127.0.0.1', port)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'temporal', 'temporal.db'))).toBe(true);
  });

  it('reuses the generated keys on the next start, and a killed run.js is cleaned up by its watchdog', async () => {
    const before = fs.readFileSync(path.join(dataDir, 'api-keys.json'), 'utf8');
    const secret = fs.readFileSync(path.join(dataDir, 'secrets-key'), 'utf8');
    const started = await start();
    const { child, out, ports } = started;
    await waitForOutput(started, /^ready$/m, 120000);
    expect(fs.readFileSync(path.join(dataDir, 'api-keys.json'), 'utf8')).toBe(before);
    expect(fs.readFileSync(path.join(dataDir, 'secrets-key'), 'utf8')).toBe(secret);
    expect(out.text).toContain(JSON.parse(before).admin);

    const server = started.startedPid('temporal');
    const pids = [...(await pidsOf(started, ['api', 'worker', 'sandbox'])), server];
    expect(pids.every((p) => temporal.pidAlive(p))).toBe(true);
    child.kill('SIGKILL');
    await exitOf(child);
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline && (pids.some((p) => temporal.pidAlive(p)) || (await temporal.isListening('127.0.0.1', ports.grpc)))) {
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const p of pids) expect(temporal.pidAlive(p)).toBe(false);
    expect(await temporal.isListening('127.0.0.1', ports.grpc)).toBe(false);
  });

  it('restarts a worker, a sandbox and a Temporal dev server that die, leaves the others alone, and its watchdog stops the restarted ones', async () => {
    const started = await start();
    const { child, out, ports } = started;
    await waitForOutput(started, /^ready$/m, 120000);
    const address = `127.0.0.1:${ports.grpc}`;
    const workflowId = `supervise-${Date.now()}`;
    let connection = await Connection.connect({ address });
    await new Client({ connection }).workflow.start('noSuchWorkflow', { taskQueue: 'supervise-probe', workflowId });
    await connection.close();
    const [api, worker] = await pidsOf(started, ['api', 'worker']);
    const server = started.startedPid('temporal');
    expect(temporal.pidAlive(server)).toBe(true);

    process.kill(worker, 'SIGKILL');
    const restartedWorker = Number((await waitForOutput(started, /worker restarted \(pid (\d+)\)/, 30000))[1]);
    expect(out.text).toMatch(/worker exited unexpectedly \(SIGKILL\); restarting it in 0\.5 s/);
    expect(restartedWorker).not.toBe(worker);
    await waitFor(() => pidOf('worker') === restartedWorker, 10000, started);

    process.kill(pidOf('sandbox'), 'SIGKILL');
    await waitForOutput(started, /sandbox restarted \(pid \d+\): its account starts empty/, 30000);
    expect(out.text).toContain('POST /v1/connections/{id}/reauthorize');

    process.kill(-server, 'SIGKILL');
    const restartedServer = Number((await waitForOutput(started, /temporal restarted \(pid (\d+)\): on the same database file/, 120000))[1]);
    connection = await Connection.connect({ address });
    const description = await new Client({ connection }).workflow.getHandle(workflowId).describe();
    await connection.close();
    expect(description.status.name).toBe('RUNNING'); // the state survived the restart
    expect(pidOf('api')).toBe(api);
    expect(temporal.pidAlive(api)).toBe(true);

    const restarted = [restartedWorker, started.startedPid('sandbox'), restartedServer];
    child.kill('SIGKILL');
    await exitOf(child);
    await waitFor(() => nothingLeft([...restarted, api], [ports.grpc, ports.api, ports.sandbox]), 30000, started);
  }, 300_000);

  it('SIGTERM stops everything like Ctrl-C, and a second interrupt kills what is still draining at once', async () => {
    const started = await start({ STUB_IGNORES_SIGTERM: 'worker' });
    const { child, out, ports } = started;
    await waitForOutput(started, /^ready$/m, 120000);
    const pids = [...(await pidsOf(started, ['api', 'worker', 'sandbox'])), started.startedPid('temporal')];

    child.kill('SIGTERM');
    // The output travels through a pipe the test reads on its own time: wait for it rather than
    // expecting it to be here as soon as the API is gone.
    await waitForOutput(started, /^Stopping\.\.\.$/m, 10000);
    await waitFor(() => !temporal.pidAlive(pids[0]) && temporal.pidAlive(pids[1]), 10000, started); // the API stopped, the worker drains
    expect(out.text).not.toContain('exited unexpectedly');
    child.kill('SIGINT');
    expect(await exitOf(child)).toBe(130);
    expect(out.text).toContain('second interrupt: killing everything now');
    await waitFor(() => nothingLeft(pids, Object.values(ports)), 10000, started);
  });
});
