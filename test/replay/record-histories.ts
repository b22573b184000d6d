import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createTestApp } from '../helpers/app';
import { startInProcessWorker } from '../helpers/worker';
import { historyToJson } from './history-json';
import { HISTORIES_DIR, personalDataIn, SCENARIOS, type IndexEntry, type Scenario } from './histories';
import { scenarios, type ScenarioSpec } from './scenarios';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const temporal = require('../../scripts/temporal.js');

/**
 * Records real workflow histories for the replay test (test/replay/replay.unit.test.ts):
 *
 *   npm run record-histories -- <set> [scenario ...]
 *
 * <set> names the folder under test/replay/histories/ (two digits, then the workflow shape it
 * records, e.g. `03-removals-in-one-batch`); an existing set is never overwritten. It starts its own
 * Temporal dev server (the tests' CLI, a temporary database), then for each scenario of
 * scenarios.ts a sandbox, a SQLite store, the API and an in-process worker on a task queue of the
 * scenario's own, drives the runs, and exports every execution on that task queue (continue-as-new
 * chains, children, runs a schedule or refresh started). Worker identities (pid@host) and stack
 * traces (paths of this machine) are blanked; a history with an email or one of the recorder's
 * invented names in it stops the recording, and nothing is written.
 */

const SET_NAME = /^\d{2}-[a-z0-9-]+$/;

interface Recorded extends IndexEntry {
  json: string;
}

async function main(): Promise<void> {
  const args = process.argv.slice(process.argv.findIndex((a) => a.endsWith('record-histories.ts')) + 1);
  const [set, ...only] = args;
  if (!set || !SET_NAME.test(set)) throw new Error('usage: npm run record-histories -- <NN-shape-name> [scenario ...]');
  const unknown = only.filter((s) => !SCENARIOS.includes(s as Scenario));
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  const target = path.join(HISTORIES_DIR, set);
  if (fs.existsSync(target)) throw new Error(`${path.relative(process.cwd(), target)} exists: recorded histories are never overwritten`);

  const server = await startServer();
  try {
    const recorded: Recorded[] = [];
    for (const spec of scenarios.filter((s) => only.length === 0 || only.includes(s.name))) {
      const started = Date.now();
      const histories = await record(spec);
      say(`${spec.name}: ${histories.length} execution(s) in ${Math.round((Date.now() - started) / 1000)} s`);
      recorded.push(...histories);
    }
    refusePersonalData(recorded);
    write(target, recorded);
    say(`wrote ${recorded.length} histories into ${path.relative(process.cwd(), target)}`);
  } finally {
    await server.stop();
  }
}

const say = (line: string) => process.stdout.write(`[record-histories] ${line}\n`);

/** A Temporal dev server of its own, where the test helpers look for the tests' one. */
async function startServer(): Promise<{ stop(): Promise<void> }> {
  const cli = await temporal.ensureTemporalCli({ log: say });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segment-export-record-'));
  const server = await temporal.startDevServer({
    cli: cli.path,
    port: await temporal.freePort(),
    headless: true,
    dbFile: path.join(dir, 'temporal.db'),
    logFile: path.join(dir, 'temporal.log'),
    healthTimeoutMs: 120_000,
    watchOwner: process.pid,
    log: () => undefined,
  });
  Object.assign(process.env, { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: 'default', TEMPORAL_CLI: cli.path });
  return {
    stop: async () => {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function record(spec: ScenarioSpec): Promise<Recorded[]> {
  const taskQueue = `replay-${spec.name}`;
  const app = await createTestApp({ kind: 'sqlite', sandbox: spec.sandbox, env: { TEMPORAL_TASK_QUEUE: taskQueue, LOG_LEVEL: 'warn', ...spec.env } });
  let worker: Awaited<ReturnType<typeof startInProcessWorker>> | undefined;
  try {
    worker = await startInProcessWorker({ config: app.config, store: app.store, logger: app.logger, ...spec.worker });
    await spec.drive(app);
    return await histories(app.temporal, spec.name, taskQueue);
  } finally {
    await worker?.stop();
    await app.close();
  }
}

/** Every execution on the task queue, oldest first, once none is running any more. */
async function histories(client: Client, scenario: Scenario, taskQueue: string): Promise<Recorded[]> {
  const query = `TaskQueue = "${taskQueue}"`;
  for (let i = 0; (await client.workflow.count(`${query} AND ExecutionStatus = "Running"`)).count > 0; i++) {
    if (i > 300) throw new Error(`${scenario}: workflows still running after a minute`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const executions = [];
  for await (const e of client.workflow.list({ query })) executions.push(e);
  executions.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
  const out: Recorded[] = [];
  for (const [i, e] of executions.entries()) {
    const history = await client.workflow.getHandle(e.workflowId, e.runId).fetchHistory();
    const file = `${scenario}.${String(i + 1).padStart(2, '0')}.${e.type}.json`;
    out.push({ file, scenario, workflowType: e.type, workflowId: e.workflowId, json: blankMachineDetails(historyToJson(history)) });
  }
  return out;
}

/**
 * Worker and client identities and the sticky queues named after them (pid@host), and stack traces
 * (paths of this machine): the replay needs none of them.
 */
function blankMachineDetails(history: unknown): string {
  const blank: Record<string, string> = { identity: 'recorder', stackTrace: '' };
  const text = JSON.stringify(history, (key, value) => {
    if (typeof value === 'string' && key in blank) return blank[key];
    if (value?.kind === 'TASK_QUEUE_KIND_STICKY') return { ...value, name: `${value.normalName}-sticky` };
    return value;
  }, 1);
  return `${text}\n`;
}

function refusePersonalData(recorded: Recorded[]): void {
  const machine = [path.resolve(__dirname, '../..'), os.homedir(), `@${os.hostname()}`];
  const problems = recorded.flatMap((r) => {
    const found = [...personalDataIn(r.json), ...machine.filter((m) => r.json.includes(m))];
    return found.length ? [`${r.file}: ${found.slice(0, 5).join(', ')}`] : [];
  });
  if (problems.length) throw new Error(`nothing written: histories carry personal data or machine details:\n${problems.join('\n')}`);
}

function write(target: string, recorded: Recorded[]): void {
  fs.mkdirSync(target, { recursive: true });
  for (const r of recorded) fs.writeFileSync(path.join(target, r.file), r.json);
  const index: IndexEntry[] = recorded.map(({ file, scenario, workflowType, workflowId }) => ({ file, scenario, workflowType, workflowId }));
  fs.writeFileSync(path.join(target, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[record-histories] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
