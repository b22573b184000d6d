import fs from 'node:fs';
import path from 'node:path';
import { baseEnv, createBenchSchema, fetchJson, spawnChild, type Child } from './harness';

// What the end-to-end benchmarks start: a Temporal dev server, the Constant Contact sandbox as a
// process, a fresh store, and the environment the API and the worker share; and a connection
// authorized against the sandbox as a browser would.

export const DIST = path.resolve(__dirname, '..');
const ROOT = findRoot(__dirname);

function findRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) throw new Error('package.json not found above the bench');
  }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const temporalScripts = require(path.join(ROOT, 'scripts', 'temporal.js')) as {
  ensureTemporalCli(o?: { log?: (m: string) => void }): Promise<{ path: string }>;
  startDevServer(o: Record<string, unknown>): Promise<{ address: string; stop(): Promise<void> }>;
  freePort(): Promise<number>;
};

export type Cleanups = (() => Promise<unknown>)[];

/**
 * A benchmark's way out: `cleanup()` runs `cleanups` last first (each failure logged, the list
 * emptied, so a second call does nothing), and SIGINT or SIGTERM run it and exit with 130. Children
 * started in a session of their own do not get a terminal's Ctrl-C, and npm passes it on a second
 * time: that second signal must not end the process before they are stopped. `release()` stops
 * listening for the signals.
 */
export function cleanupOnSignal(cleanups: Cleanups, log: (line: string) => void): { cleanup(): Promise<void>; release(): void } {
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((err) => log(`cleanup: ${err instanceof Error ? err.message : String(err)}`));
  };
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    cleanup,
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** A Temporal dev server on free ports with its database in `dir`. */
/** A Temporal server a benchmark runs on, and how to stop it. */
export interface BenchTemporal {
  address: string;
  description: string;
  stop(): Promise<void>;
}

/** A Temporal dev server of the bench's own (its ports, a database file in the work directory). */
export async function startDevServer(dir: string, log: (line: string) => void): Promise<BenchTemporal> {
  const cli = await temporalScripts.ensureTemporalCli({ log: (m) => log(`[temporal] ${m}`) });
  const server = await temporalScripts.startDevServer({
    cli: cli.path,
    port: await temporalScripts.freePort(),
    headless: true,
    dbFile: path.join(dir, 'temporal.db'),
    logFile: path.join(dir, 'temporal.log'),
    watchOwner: process.pid,
    log: () => undefined,
  });
  return { address: server.address, description: 'Temporal dev server', stop: () => server.stop() };
}

/** A dev server stopped at cleanup; its address. */
export async function startTemporal(dir: string, cleanups: Cleanups, log: (line: string) => void): Promise<string> {
  const server = await startDevServer(dir, log);
  cleanups.push(() => server.stop());
  log(`${server.description} at ${server.address}`);
  return server.address;
}

/** The sandbox as a process of its own (as in production the service is remote): imports processed at once, 4 requests a second. */
export async function startSandbox(cleanups: Cleanups): Promise<{ port: number; baseUrl: string; child: Child }> {
  const port = await temporalScripts.freePort();
  const child = spawnChild('sandbox', path.join(DIST, 'sandbox', 'main.js'), {
    ...baseEnv(),
    CC_SANDBOX_PORT: String(port),
    CC_SANDBOX_IMPORT_MS_PER_CONTACT: '0',
    CC_SANDBOX_RATE_PER_SECOND: '4',
    CC_SANDBOX_RATE_PER_DAY: '100000',
  });
  cleanups.push(() => child.stop());
  await child.waitFor('sandbox listening');
  return { port, baseUrl: `http://127.0.0.1:${port}`, child };
}

/** A fresh store: SQLite under `dir`, or a new PostgreSQL schema dropped at cleanup. */
export async function benchStoreEnv(store: 'sqlite' | 'postgres', dir: string, databaseUrl: string, cleanups: Cleanups): Promise<Record<string, string>> {
  const env: Record<string, string> = { DATA_DIR: path.join(dir, 'data') };
  if (store === 'sqlite') return env;
  const schema = await createBenchSchema(databaseUrl);
  cleanups.push(() => schema.drop());
  return { ...env, DATABASE_URL: schema.url };
}

/** What the API and the worker of a benchmark share: the store, Temporal, the sandbox as Constant Contact. */
export function stackEnv(o: { storeEnv: Record<string, string>; temporalAddress: string; sandboxPort: number; maxProfiles: number }): Record<string, string> {
  const sandbox = `http://127.0.0.1:${o.sandboxPort}`;
  return {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    ...o.storeEnv,
    TEMPORAL_ADDRESS: o.temporalAddress,
    TEMPORAL_TASK_QUEUE: 'bench-export',
    CC_SANDBOX: 'true',
    CC_SANDBOX_PORT: String(o.sandboxPort),
    CC_API_BASE_URL: `${sandbox}/v3`,
    CC_AUTH_BASE_URL: `${sandbox}/oauth2/default/v1`,
    CC_RATE_PER_SECOND: '4',
    CC_RATE_PER_DAY: '100000',
    EXPORT_MAX_PROFILES: String(Math.max(1_000_000, o.maxProfiles)),
    // The benchmarks measure the API under load, not its per-key request limit.
    API_RATE_LIMIT_PER_SECOND: '1000000',
    API_RATE_LIMIT_BURST: '1000000',
    // `WORKER_NICE=0 npm run bench -- …` compares a worker at the API's own priority.
    ...(process.env.WORKER_NICE ? { WORKER_NICE: process.env.WORKER_NICE } : {}),
  };
}

/** A connection through the API, authorized against the sandbox by following the redirects as a browser would. */
export async function connectSandbox(apiBase: string, adminKey: string): Promise<string> {
  const auth = { authorization: `Bearer ${adminKey}` };
  const created = await fetchJson<{ id: string; authorizeUrl: string }>(
    `${apiBase}/v1/connections`,
    'POST',
    { displayName: 'Bench sandbox', usableBy: 'admins', dataPrivacyConsent: true },
    auth,
  );
  let url: string = created.authorizeUrl;
  for (let hop = 0; hop < 5; hop++) {
    const res = await fetch(url, { redirect: 'manual' });
    await res.text();
    const location = res.headers.get('location');
    if (!location) break;
    url = new URL(location, url).toString();
  }
  const connection = await fetchJson<{ status: string }>(`${apiBase}/v1/connections/${created.id}`, 'GET', undefined, auth);
  if (connection.status !== 'connected') throw new Error(`the bench connection is ${connection.status}`);
  return created.id;
}
