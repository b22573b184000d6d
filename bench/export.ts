import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app';
import { createExpressServer } from '../api/express-server';
import { parseConfig } from '../common/config';
import { createLogger } from '../common/logger';
import { createConstantContactClient } from '../constant-contact/client';
import { openStore, type Store } from '../store';
import { baseEnv, endProgress, fetchJson, fmt, nodeOptionsFrom, progress, readStatusKb, secs, spawnChild } from './harness';
import { benchStoreEnv, cleanupOnSignal, connectSandbox, DIST, startDevServer, startSandbox, stackEnv, type BenchTemporal, type Cleanups } from './stack';

export type { BenchTemporal } from './stack';
import { readHistory } from './history';
import { benchProfile } from './profiles';
import { plainExport, type PlainExportResult } from './plain-export';
import { runIncremental, runToEnd, type Api, type IncrementalResult } from './incremental';

/**
 * `npm run bench` (or `npm run bench -- export [--profiles N] [--store sqlite|postgres] [--keep]`)
 *
 * Starts what it needs and stops it after: a Temporal dev server (its own ports and database file),
 * the Constant Contact sandbox as a process (imports processed at once, 4 requests a second per key
 * enforced), a fresh store, the API in this process, and one worker as a child process (its peak
 * RSS read from /proc). Generates N profiles (default 1,000,000) straight into the store, a segment
 * of all of them and an export, then:
 *
 *   1. runs the export through the real stack (POST /v1/exports/{id}/runs, polled until it ends)
 *      and reads the workflow history for the time per phase and the number of events;
 *   2. resets the sandbox and does the same export with a plain script (bench/plain-export.ts: the
 *      same reads and requests, no Temporal, no run records);
 *
 * and prints both, their ratio, and as its last line one JSON object:
 * {profiles, totalSeconds, plainScriptSeconds, ratio, workerPeakRssMb, historyEvents}.
 */

export interface ExportBenchOptions {
  profiles: number;
  store: 'sqlite' | 'postgres';
  databaseUrl: string;
  keep: boolean;
  /** After the first run, change the mapped attributes of this share of the profiles and run again. */
  changed?: number;
  log: (line: string) => void;
  /** Worker processes sharing the task queue (their peak RSS is the largest of them). */
  workers?: number;
  /** The Temporal server to run on; by default a dev server of the bench's own. */
  startTemporal?: (dir: string, log: (line: string) => void) => Promise<BenchTemporal>;
}

export interface ExportBenchResult {
  profiles: number;
  totalSeconds: number;
  plainScriptSeconds: number;
  ratio: number;
  workerPeakRssMb: number;
  historyEvents: number;
  /** Requests the run sent to Constant Contact (the sandbox's count). */
  constantContactRequests: number;
  /** Run start → first import posted. */
  firstImportSeconds: number | null;
  incrementalSeconds?: number;
  incrementalRequests?: number;
}

export const TARGETS = { seconds: 60, ratio: 1.5, workerRssMb: 400 };

const ADMIN_KEY = `bench-admin-${randomBytes(16).toString('hex')}`;

export function exportBenchOptions(args: string[], env: NodeJS.ProcessEnv = process.env): ExportBenchOptions {
  let profiles = 1_000_000;
  let store: ExportBenchOptions['store'] = 'sqlite';
  let keep = false;
  let changed: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split('=', 2);
    const value = () => inline ?? args[++i];
    if (flag === '--profiles') {
      profiles = Number(String(value()).replace(/[_,]/g, ''));
      if (!Number.isInteger(profiles) || profiles < 1) throw new Error('--profiles takes a positive integer');
    } else if (flag === '--store') {
      const s = value();
      if (s !== 'sqlite' && s !== 'postgres') throw new Error('--store takes sqlite or postgres');
      store = s;
    } else if (flag === '--keep') {
      keep = true;
    } else if (flag === '--changed') {
      changed = Number(value());
      if (!(changed > 0 && changed <= 1)) throw new Error('--changed takes a share of the profiles, e.g. 0.01');
    } else {
      throw new Error(`unknown option ${args[i]} (export takes --profiles N, --store sqlite|postgres, --keep, --changed F)`);
    }
  }
  return {
    profiles,
    store,
    databaseUrl: env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    keep,
    changed,
    log: (line) => process.stdout.write(`${line}\n`),
  };
}

export async function runExportBench(options: ExportBenchOptions): Promise<ExportBenchResult> {
  const log = options.log;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segment-export-bench-'));
  const cleanups: Cleanups = [];
  const { cleanup, release } = cleanupOnSignal(cleanups, log);
  try {
    log(`export benchmark: ${fmt(options.profiles)} profiles, ${options.store} store, work files in ${dir}`);
    if (!options.keep) cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));

    // ---- Temporal (a dev server of the bench's own, or another server: --cluster)
    const server = await (options.startTemporal ?? startDevServer)(dir, log);
    cleanups.push(() => server.stop());
    log(`${server.description} at ${server.address}`);
    const temporalAddress = server.address;
    const sandbox = await startSandbox(cleanups);
    const sandboxBase = sandbox.baseUrl;
    const storeEnv = await benchStoreEnv(options.store, dir, options.databaseUrl, cleanups);

    // ---- the API, in this process
    const { server: httpServer, serve } = createExpressServer();
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => { httpServer.close(() => resolve()); httpServer.closeAllConnections(); }));
    const apiBase = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    const secretsKey = randomBytes(32).toString('hex');
    const appEnv: Record<string, string> = {
      ...stackEnv({ storeEnv, temporalAddress, sandboxPort: sandbox.port, maxProfiles: options.profiles }),
      SECRETS_KEY: secretsKey,
      API_KEYS: `admin:${ADMIN_KEY}`,
      PUBLIC_BASE_URL: apiBase,
    };
    const config = parseConfig(appEnv);
    const logger = createLogger('warn', 'bench');
    const store = await openStore({ databaseUrl: config.databaseUrl, sqliteFile: path.join(config.dataDir, 'segment-export.db'), secretsKey });
    cleanups.push(() => store.close());
    const temporalConnection = await Connection.connect({ address: temporalAddress });
    cleanups.push(() => temporalConnection.close());
    const temporal = new Client({ connection: temporalConnection, namespace: config.temporal.namespace });
    const constantContact = createConstantContactClient({ config: config.constantContact, tokens: store.tokens, rateLimits: store.rateLimits, logger });
    serve(createApp({ config, store, logger, temporal, constantContact }));

    // ---- data: N profiles, a segment of them all, a connection, an export
    const seedStarted = Date.now();
    await seed(store, options.profiles, (done) => progress(`generating profiles ${fmt(done)}/${fmt(options.profiles)}`));
    const segment = await store.segments.create({ name: 'Bench: every profile', rule: { all: [] } });
    const refreshed = await store.segments.refresh(segment.id);
    await settleStore(store);
    endProgress(`generated ${fmt(options.profiles)} profiles and a segment of ${fmt(refreshed?.memberCount ?? 0)} in ${secs((Date.now() - seedStarted) / 1000)}`);
    const connectionId = await connectSandbox(apiBase, ADMIN_KEY);
    const created = await api<{ id: string }>(apiBase, 'POST', '/v1/exports', {
      name: 'Bench export',
      connectionId,
      listId: '00000000-0000-4000-8000-000000000001',
      mapping: { email: 'email', firstName: 'firstName', lastName: 'lastName' },
      segmentIds: [segment.id],
      schedule: { mode: 'off' },
    });
    const exportId = created.id;

    // ---- the workers, as processes
    const workerEnv = { ...baseEnv(), ...appEnv, LOG_LEVEL: process.env.BENCH_WORKER_LOG_LEVEL ?? 'info', ...nodeOptionsFrom('BENCH_WORKER_NODE_OPTIONS') };
    const workers = Array.from({ length: options.workers ?? 1 }, (_, i) => spawnChild(`worker ${i + 1}`, path.join(DIST, 'worker', 'main.js'), workerEnv, path.join(dir, i === 0 ? 'worker.log' : `worker-${i + 1}.log`)));
    cleanups.push(() => Promise.all(workers.map((w) => w.stop())));
    await Promise.all(workers.map((w) => w.waitFor('worker started')));
    let sampledPeakKb = 0;
    let currentPhase = 'idle';
    const rssByPhase: Record<string, number> = {};
    const sampler = setInterval(() => {
      const kb = Math.max(...workers.map((w) => readStatusKb(w.child.pid!, 'VmRSS')));
      sampledPeakKb = Math.max(sampledPeakKb, kb);
      rssByPhase[currentPhase] = Math.max(rssByPhase[currentPhase] ?? 0, kb);
    }, 100);
    cleanups.push(async () => clearInterval(sampler));

    // ---- 1. through the real stack
    log('');
    log('1. the export run (API → Temporal → worker → sandbox)');
    const callApi: Api = (method, p, body) => api(apiBase, method, p, body);
    const { run: ended, seconds: totalSeconds } = await runToEnd(callApi, exportId, (phase) => (currentPhase = phase));
    const run = ended;
    const workerPeakRssMb = Math.round(Math.max(...workers.map((w) => readStatusKb(w.child.pid!, 'VmHWM')), sampledPeakKb) / 1024);
    const history = await readHistory(temporal, run.workflowId);
    const c = ended.counts;
    log(`   counts: ${fmt(c.segmentProfiles)} profiles = ${fmt(c.sent)} sent + ${fmt(c.rejected)} rejected + ${fmt(c.duplicates)} duplicates; imported ${fmt(c.imported)}`);
    log(`   ${ended.progress.chunksTotal} imports; ${fmt(history.events)} history events in ${history.executions} workflow execution(s); worker peak RSS ${workerPeakRssMb} MB`);
    log(`   worker RSS by phase (MB): ${Object.entries(rssByPhase).map(([k, v]) => `${k} ${Math.round(v / 1024)}`).join(', ')}`);
    log('   time per phase (from the workflow history):');
    for (const [name, s] of Object.entries(history.phases)) log(`     ${name.padEnd(34)} ${secs(s)}`);
    const stats = await fetchJson<{ requests: number; importRequests: number; maxRequestsInOneSecond: number; throttled: number }>(`${sandboxBase}/__sandbox/stats`);
    log(`   sandbox: ${stats.requests} requests, ${stats.importRequests} imports, max ${stats.maxRequestsInOneSecond} in one second, ${stats.throttled} throttled`);
    if (history.firstUploadSeconds !== null) log(`   first import posted ${secs(history.firstUploadSeconds)} after the run started`);

    let incremental: IncrementalResult | undefined;
    if (options.changed !== undefined) {
      log('');
      log(`1b. the same export again after ${options.changed * 100}% of the profiles changed (incremental run)`);
      incremental = await runIncremental({ store, api: callApi, sandboxBase, exportId, segmentId: segment.id, profiles: options.profiles, fraction: options.changed, temporal, log });
    }

    // ---- 2. the plain script
    await fetchJson(`${sandboxBase}/__sandbox/reset`, 'POST');
    await settleStore(store);
    log('');
    log('2. the same export by a plain script (no Temporal, no run records)');
    const exp = (await store.exports.get(exportId))!;
    const plain: PlainExportResult = await plainExport({ store, constantContact, config }, exp);
    log(`   done in ${secs(plain.seconds)}: ${plain.imports} imports, ${fmt(plain.contacts)} contacts sent, ${fmt(plain.rejected)} rejected, ${fmt(plain.duplicates)} duplicates`);
    log(`   time per phase: ${Object.entries(plain.phases).filter(([k]) => k !== 'uploadsEndAt').map(([k, v]) => `${k} ${secs(v)}`).join(', ')}`);
    if (plain.contacts !== c.sent) throw new Error(`the plain script sent ${plain.contacts} contacts, the run ${c.sent}`);

    const ratio = totalSeconds / plain.seconds;
    log('');
    log(`total ${secs(totalSeconds)} (target < ${TARGETS.seconds} s), plain script ${secs(plain.seconds)}, ratio ${ratio.toFixed(2)} (target <= ${TARGETS.ratio}), worker peak RSS ${workerPeakRssMb} MB (target < ${TARGETS.workerRssMb} MB)`);
    const result: ExportBenchResult = {
      profiles: options.profiles,
      totalSeconds: round1(totalSeconds),
      plainScriptSeconds: round1(plain.seconds),
      ratio: Math.round(ratio * 100) / 100,
      workerPeakRssMb,
      historyEvents: history.events,
      constantContactRequests: stats.requests,
      firstImportSeconds: history.firstUploadSeconds === null ? null : round1(history.firstUploadSeconds),
      ...(incremental ? { incrementalSeconds: incremental.incrementalSeconds, incrementalRequests: incremental.incrementalRequests } : {}),
    };
    await cleanup();
    log(JSON.stringify(result));
    return result;
  } catch (err) {
    endProgress('');
    await cleanup();
    throw err;
  } finally {
    release();
  }
}

const round1 = (n: number) => Math.round(n * 10) / 10;

// ---------------------------------------------------------------- helpers

/**
 * Both exports start from the same state of the database: SQLite's write-ahead log folded into the
 * database file (the generated profiles, or the first run's dropped snapshot), statistics fresh.
 */
async function settleStore(store: Store): Promise<void> {
  if (store.db.dialect === 'sqlite') {
    await store.db.run('PRAGMA wal_checkpoint(TRUNCATE)');
    await store.db.run('ANALYZE');
  } else {
    await store.db.run('CHECKPOINT').catch(() => undefined);
    await store.db.run('ANALYZE');
  }
}

async function seed(store: Store, n: number, onProgress: (done: number) => void): Promise<void> {
  const batch = 10_000;
  const now = new Date().toISOString();
  for (let i = 0; i < n; i += batch) {
    const items = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      const { id, ...attributes } = benchProfile(j);
      items.push({ id, attributes });
    }
    await store.profiles.upsertMany(items, now);
    onProgress(Math.min(n, i + batch));
  }
}

const api = <T = unknown>(base: string, method: string, p: string, body?: unknown) => fetchJson<T>(`${base}${p}`, method, body, { authorization: `Bearer ${ADMIN_KEY}` });
