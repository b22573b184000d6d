import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import pg from 'pg';

// What the benchmarks share: child processes and their memory, free ports, a PostgreSQL schema of
// their own, JSON over HTTP, and progress lines on a terminal.

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const fmt = (n: number) => n.toLocaleString('en-US');
export const secs = (n: number) => `${n.toFixed(1)} s`;

/** The few variables a child process needs from ours (the rest is given explicitly). */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k]) env[k] = process.env[k]!;
  return env;
}

/** `NODE_OPTIONS` from the environment variable `name`, when set: options (a profiler's `--require`) for one process of a benchmark. */
export function nodeOptionsFrom(name: string): Record<string, string> {
  const options = process.env[name];
  return options ? { NODE_OPTIONS: options } : {};
}

export interface Child {
  child: ChildProcess;
  /** The last 20,000 characters it printed. */
  output(): string;
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `node <entry>` with `env`. `ownSession`: in a session of its own, as `npm start` starts each
 * service (with Linux's autogroup, the kernel then shares the cores with it as with a group of its own).
 */
export function spawnChild(name: string, entry: string, env: Record<string, string>, logFile?: string, options: { ownSession?: boolean } = {}): Child {
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: build first (npx tsc -p tsconfig.build.json)`);
  const child = spawn(process.execPath, [entry], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownSession ?? false });
  const log = logFile ? fs.createWriteStream(logFile) : undefined;
  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString('utf8')).slice(-20_000);
    log?.write(c);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A benchmark that dies (an uncaught error) takes its children with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  return {
    child,
    output: () => out,
    async waitFor(text, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!out.includes(text)) {
        if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}):\n${out.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`${name} did not say "${text}" in time:\n${out.slice(-3000)}`);
        await sleep(50);
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Writes the chunks to a file, no faster than the disk takes them. */
export async function writeChunks(file: string, chunks: AsyncIterable<Buffer>): Promise<void> {
  const out = fs.createWriteStream(file);
  for await (const chunk of chunks) {
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** A field of /proc/<pid>/status in kB (VmRSS: resident now; VmHWM: the peak), 0 when unreadable. */
export function readStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface ApiProcess {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  /** The admin key it accepts (a contributor key too: `contributorKey`). */
  adminKey: string;
  contributorKey: string;
  /** The largest resident set so far, in MB: the kernel's peak (VmHWM) and our 100 ms samples. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

/**
 * `node <apiEntry>` (dist/api/main.js) on a free loopback port with API keys of its own and `env`
 * (the store, Temporal, …) over a minimal environment; resolves once /healthz answers.
 */
export async function startApiProcess(apiEntry: string, env: Record<string, string>, options: { ownSession?: boolean } = {}): Promise<ApiProcess> {
  const port = await freePort();
  const adminKey = `admin-${randomBytes(16).toString('hex')}`;
  const contributorKey = `contributor-${randomBytes(16).toString('hex')}`;
  const api = spawnChild('api', apiEntry, {
    ...baseEnv(),
    PORT: String(port),
    API_KEYS: `admin:${adminKey},contributor:${contributorKey}`,
    SECRETS_KEY: randomBytes(32).toString('hex'),
    ...env,
  }, undefined, options);
  const pid = api.child.pid!;
  let sampled = 0;
  const sample = setInterval(() => (sampled = Math.max(sampled, readStatusKb(pid, 'VmRSS'))), 100);
  sample.unref();
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (api.child.exitCode !== null) throw new Error(`the API exited (${api.child.exitCode}):\n${api.output().slice(-3000)}`);
      const ok = await fetch(`${baseUrl}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error('the API did not answer /healthz within 60 s');
      await sleep(200);
    }
  } catch (err) {
    clearInterval(sample);
    await api.stop();
    throw err;
  }
  return {
    child: api.child,
    port,
    baseUrl,
    adminKey,
    contributorKey,
    peakRssMb: () => Math.round(Math.max(sampled, readStatusKb(pid, 'VmHWM')) / 1024),
    stop: async () => {
      clearInterval(sample);
      await api.stop();
    },
  };
}

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A new schema in the PostgreSQL at `databaseUrl`, the URL that selects it, and drop() to remove it. */
export async function createBenchSchema(databaseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await admin.end();
  }
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await c.end();
    },
  };
}

export async function fetchJson<T = unknown>(url: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${new URL(url).pathname}: ${res.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

const tty = process.stderr.isTTY;
export function progress(line: string): void {
  if (tty) process.stderr.write(`\r${line.padEnd(100)}`);
}
export function endProgress(line: string): void {
  if (tty) process.stderr.write(`\r${' '.repeat(100)}\r`);
  if (line) process.stdout.write(`${line}\n`);
}
export const bar = (percent: number) => {
  const n = Math.round((Math.max(0, Math.min(100, percent)) / 100) * 30);
  return `[${'#'.repeat(n)}${'.'.repeat(30 - n)}]`;
};
