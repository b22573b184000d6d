import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { testTemporal } from './temporal';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const processes = require('../../scripts/processes.js') as { freePort(): Promise<number>; pidAlive(pid: number): boolean; isListening(host: string, port: number): Promise<boolean> };

/**
 * `npm start` (scripts/run.js start), or `npm run cluster`, as a child of a test, never on the
 * default ports: its own free ports for the API, Temporal (gRPC and UI) and the sandbox, and the
 * data directory the test gives. Its output (both streams) is collected in `out.text`; the helpers
 * wait on it.
 */

export interface StartPorts {
  api: number;
  grpc: number;
  ui: number;
  sandbox: number;
}

export interface NpmStart {
  child: ChildProcess;
  out: { text: string };
  ports: StartPorts;
  /** The pid npm start printed last for a child: when it started it (`worker started (pid N)`) or restarted it. */
  startedPid(name: string): number;
}

export async function freePorts(): Promise<StartPorts> {
  const ports = { api: 0, grpc: 0, ui: 0, sandbox: 0 };
  const taken = new Set<number>();
  for (const k of Object.keys(ports) as (keyof StartPorts)[]) {
    do ports[k] = await processes.freePort();
    while (taken.has(ports[k]));
    taken.add(ports[k]);
  }
  return ports;
}

/** Spawns `node <runJs> start` (or `args`) with the environment of a newcomer, these ports and `env` on top. */
export function npmStart(runJs: string, options: { dataDir: string; ports: StartPorts; env?: Record<string, string>; args?: string[] }): NpmStart {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['API_KEYS', 'SECRETS_KEY', 'CC_CLIENT_ID', 'CC_CLIENT_SECRET', 'CC_API_BASE_URL', 'CC_AUTH_BASE_URL', 'DATABASE_URL', 'PUBLIC_BASE_URL', 'TEMPORAL_TASK_QUEUE']) {
    delete env[k];
  }
  const { ports } = options;
  Object.assign(env, {
    DATA_DIR: options.dataDir,
    PORT: String(ports.api),
    TEMPORAL_ADDRESS: `127.0.0.1:${ports.grpc}`,
    TEMPORAL_UI_URL: `http://127.0.0.1:${ports.ui}`,
    CC_SANDBOX_PORT: String(ports.sandbox),
    TEMPORAL_CLI: testTemporal().cli,
    NO_COLOR: '1',
    ...options.env,
  });
  const child = spawn(process.execPath, [runJs, ...(options.args ?? ['start'])], { cwd: path.dirname(path.dirname(runJs)), env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { text: '' };
  child.stdout!.on('data', (c) => (out.text += c));
  child.stderr!.on('data', (c) => (out.text += c));
  // The latest: a child npm start restarted has a new pid.
  const startedPid = (name: string) => {
    const all = [...out.text.matchAll(new RegExp(`^${name} (?:started|restarted) \\(pid (\\d+)\\)`, 'gm'))];
    if (!all.length) throw new Error(`npm start printed no pid for ${name}; output:\n${out.text}`);
    return Number(all[all.length - 1][1]);
  };
  return { child, out, ports, startedPid };
}

/** Resolves once `pattern` is in the output; rejects on timeout or when npm start exits first. */
export function waitForOutput(start: Pick<NpmStart, 'child' | 'out'>, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const { child, out } = start;
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      child.off('exit', onExit);
    };
    const check = () => {
      const m = pattern.exec(out.text);
      if (m) {
        done();
        resolve(m);
      }
    };
    const onExit = () => {
      // The last output may come after the exit event: give the streams a moment.
      setTimeout(() => {
        check();
        done();
        reject(new Error(`npm start exited before ${pattern}; output:\n${out.text}`));
      }, 200);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out waiting for ${pattern}; output:\n${out.text}`));
    }, timeoutMs);
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

/**
 * The exit code (null after a signal) of a child, once it has exited and all it wrote has been
 * read: the exit event can come before the last output, which a test then asserts on.
 */
export async function exitOf(child: ChildProcess): Promise<number | null> {
  const exited = child.exitCode !== null || child.signalCode !== null;
  const open = [child.stdout, child.stderr].filter((s) => s && !s.closed);
  await Promise.all([exited ? null : once(child, 'exit'), ...open.map((s) => once(s!, 'close'))]);
  return child.exitCode;
}

/** Polls `condition` until it holds; on timeout the error carries `started`'s output, if given, to say why. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, started?: Pick<NpmStart, 'out'>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      const output = started ? `; output:\n${started.out.text}` : '';
      throw new Error(`not so after ${timeoutMs} ms: ${condition.toString()}${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Ctrl-C for an npm start that a failed test left running. */
export async function interrupt(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  await exitOf(child);
}

/** True when none of the pids lives and nothing listens on any of the ports. */
export async function nothingLeft(pids: number[], ports: number[]): Promise<boolean> {
  if (pids.some((p) => processes.pidAlive(p))) return false;
  for (const port of ports) if (await processes.isListening('127.0.0.1', port)) return false;
  return true;
}
