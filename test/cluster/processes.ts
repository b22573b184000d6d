import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { testDatabaseUrl } from '../helpers/stores';
import { ROOT } from '../helpers/worker';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ports = require('../../scripts/processes.js') as { freePort(): Promise<number>; canListen(port: number): Promise<boolean> };

/**
 * Real processes of the service (`node dist/api/main.js`, `node dist/worker/main.js`), whole
 * PostgreSQL databases owned by one test, and free ports, for the tests of the scaled-out topology.
 */

export interface AppProcess {
  name: string;
  child: ChildProcess;
  /** What it printed (stdout and stderr), for a failing test's message. */
  output(): string;
  /** Resolves when the process is up: a worker polls its task queue, an API answers /readyz 200. */
  ready: Promise<void>;
  exited: Promise<number | null>;
  alive(): boolean;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns a built entry point. `readyWhen` decides readiness from its output so far (a worker logs
 * "worker started"); `readyUrl` polls an URL until it answers 200 (an API's /readyz).
 */
export function spawnApp(
  name: string,
  entry: 'dist/api/main.js' | 'dist/worker/main.js',
  env: Record<string, string>,
  ready: { readyWhen?: (output: string) => boolean; readyUrl?: string; timeoutMs?: number },
): AppProcess {
  const child = spawn(process.execPath, [path.join(ROOT, entry)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const deadline = Date.now() + (ready.timeoutMs ?? 120_000);
  const isReady = async () => {
    if (ready.readyWhen?.(out)) return true;
    if (!ready.readyUrl) return false;
    const res = await fetch(ready.readyUrl, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    return res?.status === 200;
  };
  const readyPromise = (async () => {
    for (;;) {
      if (!alive()) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out.slice(-3000)}`);
      if (await isReady()) return;
      if (Date.now() > deadline) throw new Error(`${name} was not ready in time:\n${out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  readyPromise.catch(() => undefined);
  return {
    name,
    child,
    output: () => out,
    ready: readyPromise,
    exited,
    alive,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (!alive()) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export const workerReady = { readyWhen: (out: string) => out.includes('worker started') };
export const apiReady = (port: number) => ({ readyUrl: `http://127.0.0.1:${port}/readyz` });

/** The URL of `base` (a postgres:// URL) with another database name. */
export function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A new, empty PostgreSQL database on the test server, with a name of this test's own. */
export async function createDatabase(prefix: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  return { name, url: databaseUrl(testDatabaseUrl(), name), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** The first of `count` consecutive free ports (`npm run cluster` puts API i on PORT + i - 1). */
export async function freeConsecutivePorts(count: number): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const first = await ports.freePort();
    const next = await Promise.all(Array.from({ length: count - 1 }, (_, i) => ports.canListen(first + i + 1)));
    if (next.every(Boolean)) return first;
  }
  throw new Error(`no ${count} consecutive free ports`);
}
