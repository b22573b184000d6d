import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';

/**
 * The Temporal dev server that test/global-setup.js starts for the whole jest run.
 * Reads process.env first, then the backup file the setup wrote into os.tmpdir().
 */
export interface TestTemporal {
  address: string;
  namespace: string;
  uiUrl: string;
  /** Path of the `temporal` CLI binary. */
  cli: string;
}

function fromFile(): Partial<TestTemporal> {
  const candidates = [
    process.env.TEST_TEMPORAL_INFO_FILE,
    path.join(os.tmpdir(), `segment-export-test-temporal-${process.ppid}.json`), // jest worker: the parent is jest
    path.join(os.tmpdir(), `segment-export-test-temporal-${process.pid}.json`), // --runInBand
  ];
  for (const file of candidates) {
    if (!file) continue;
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<TestTemporal>;
    } catch {
      /* next */
    }
  }
  return {};
}

export function testTemporal(): TestTemporal {
  const file = process.env.TEMPORAL_ADDRESS && process.env.TEMPORAL_CLI ? {} : fromFile();
  const address = process.env.TEMPORAL_ADDRESS ?? file.address;
  const cli = process.env.TEMPORAL_CLI ?? file.cli;
  if (!address || !cli) {
    throw new Error('no test Temporal server: run the tests through jest (its global setup starts one) or `npm test`');
  }
  return {
    address,
    namespace: process.env.TEMPORAL_NAMESPACE ?? file.namespace ?? 'default',
    uiUrl: process.env.TEMPORAL_UI_URL ?? file.uiUrl ?? '',
    cli,
  };
}

/** host:port of the test Temporal server. */
export function testTemporalAddress(): string {
  return testTemporal().address;
}

/** A Client connected to the test server; close it with `await client.connection.close()`. */
export async function connectTestClient(namespace = testTemporal().namespace): Promise<Client> {
  const connection = await Connection.connect({ address: testTemporalAddress() });
  return new Client({ connection, namespace });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the `temporal` CLI against the test server, e.g. `temporalCli(['workflow', 'list', '-o', 'json'])`.
 * Adds `--address` and `--namespace` unless the arguments give them. Rejects on a non-zero exit
 * unless `allowFailure` is set.
 */
export function temporalCli(args: string[], opts: { allowFailure?: boolean; timeoutMs?: number } = {}): Promise<CliResult> {
  const t = testTemporal();
  const full = [...args];
  if (!full.includes('--address')) full.push('--address', t.address);
  if (!full.includes('--namespace') && !full.includes('-n') && args[0] !== 'server') full.push('--namespace', t.namespace);
  // The CLI reads TEMPORAL_* variables itself; the flags above are the single source of truth.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  return new Promise((resolve, reject) => {
    execFile(t.cli, full, { env, timeout: opts.timeoutMs ?? 30000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const exit = (err as { code?: unknown } | null)?.code;
      const code = err ? (typeof exit === 'number' ? exit : 1) : 0;
      if (code !== 0 && !opts.allowFailure) {
        reject(new Error(`temporal ${args.join(' ')} exited with ${code}: ${stderr.trim()}`));
        return;
      }
      resolve({ code, stdout, stderr });
    });
  });
}

/** `temporalCli` with `-o json`, parsed. `workflow list -o json` prints a JSON array. */
export async function temporalCliJson<T = unknown>(args: string[]): Promise<T> {
  const r = await temporalCli([...args, '-o', 'json']);
  return JSON.parse(r.stdout) as T;
}
