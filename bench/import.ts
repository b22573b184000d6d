import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createBenchSchema, freePort, readStatusKb, startApiProcess, writeChunks } from './harness';
import { benchNdjson } from './profiles';

/**
 * `npm run bench -- import [--profiles N] [--stores sqlite,postgres]`
 *
 * For each store: starts the API process (`node dist/api/main.js`) on a free loopback port with a
 * fresh store (a temporary DATA_DIR for SQLite; a new schema for PostgreSQL, dropped afterwards),
 * streams N generated profiles as one NDJSON request to POST /v1/profiles/import, and prints the
 * time and the API process's peak RSS (VmHWM from /proc, with VmRSS polled as a cross-check). The
 * body is generated into a temporary file first, so the time is the API's, not the generator's.
 * Temporal is not needed: /readyz says it is down, the import does not care.
 *
 * PostgreSQL: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test.
 */

export interface ImportBenchOptions {
  profiles: number;
  stores: ('sqlite' | 'postgres')[];
  databaseUrl: string;
  /** The compiled API entry. */
  apiEntry: string;
  log: (line: string) => void;
}

export interface ImportBenchResult {
  store: 'sqlite' | 'postgres';
  profiles: number;
  seconds: number;
  perSecond: number;
  startRssMb: number;
  peakRssMb: number;
  response: { received: number; upserted: number; rejected: number };
}

export const RSS_TARGET_MB = 200;

export function importBenchOptions(args: string[], env: NodeJS.ProcessEnv = process.env): ImportBenchOptions {
  let profiles = 1_000_000;
  let stores: ImportBenchOptions['stores'] = ['sqlite', 'postgres'];
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split('=', 2);
    const value = () => inline ?? args[++i];
    if (flag === '--profiles') {
      profiles = Number(value());
      if (!Number.isInteger(profiles) || profiles < 1) throw new Error('--profiles takes a positive integer');
    } else if (flag === '--stores') {
      const list = String(value()).split(',').map((s) => s.trim());
      if (!list.length || list.some((s) => s !== 'sqlite' && s !== 'postgres')) throw new Error('--stores takes sqlite, postgres or both (comma-separated)');
      stores = list as ImportBenchOptions['stores'];
    } else {
      throw new Error(`unknown option ${args[i]} (import takes --profiles N and --stores sqlite,postgres)`);
    }
  }
  return {
    profiles,
    stores,
    databaseUrl: env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    apiEntry: path.resolve(__dirname, '..', 'api', 'main.js'),
    log: (line) => process.stdout.write(`${line}\n`),
  };
}

export async function runImportBench(options: ImportBenchOptions): Promise<ImportBenchResult[]> {
  if (!fs.existsSync(options.apiEntry)) throw new Error(`${options.apiEntry} is missing: build first (npx tsc -p tsconfig.build.json)`);
  const results: ImportBenchResult[] = [];
  options.log(`import benchmark: ${options.profiles.toLocaleString('en-US')} generated profiles as one NDJSON request, per store`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-bench-body-'));
  try {
    const body = path.join(dir, 'profiles.ndjson');
    await writeChunks(body, benchNdjson(options.profiles));
    for (const store of options.stores) {
      const result = store === 'sqlite' ? await benchSqlite(options, body) : await benchPostgres(options, body);
      results.push(result);
      options.log(formatResult(result));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const worst = Math.max(...results.map((r) => r.peakRssMb));
  options.log(worst < RSS_TARGET_MB ? `peak RSS under ${RSS_TARGET_MB} MB on every store` : `peak RSS ${worst} MB: over the ${RSS_TARGET_MB} MB target`);
  return results;
}

export function formatResult(r: ImportBenchResult): string {
  return (
    `${r.store.padEnd(8)} ${r.profiles.toLocaleString('en-US')} profiles in ${r.seconds.toFixed(1)} s ` +
    `(${Math.round(r.perSecond).toLocaleString('en-US')}/s), API peak RSS ${r.peakRssMb} MB (${r.startRssMb} MB before the import); ` +
    `upserted ${r.response.upserted.toLocaleString('en-US')}, rejected ${r.response.rejected}`
  );
}

async function benchSqlite(options: ImportBenchOptions, body: string): Promise<ImportBenchResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-bench-'));
  try {
    return await benchOne('sqlite', options, body, { DATA_DIR: dataDir });
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function benchPostgres(options: ImportBenchOptions, body: string): Promise<ImportBenchResult> {
  const schema = await createBenchSchema(options.databaseUrl);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-bench-'));
  try {
    return await benchOne('postgres', options, body, { DATA_DIR: dataDir, DATABASE_URL: schema.url });
  } finally {
    await schema.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function benchOne(store: 'sqlite' | 'postgres', options: ImportBenchOptions, body: string, storeEnv: Record<string, string>): Promise<ImportBenchResult> {
  // Nothing listens at its Temporal address: the API starts without Temporal and the import does not need it.
  const api = await startApiProcess(options.apiEntry, { NODE_ENV: 'production', LOG_LEVEL: 'warn', TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, ...storeEnv });
  try {
    const startRss = readStatusKb(api.child.pid!, 'VmRSS');
    const started = process.hrtime.bigint();
    const response = await postStream(api.port, api.adminKey, fs.createReadStream(body, { highWaterMark: 64 * 1024 }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (response.upserted !== options.profiles) throw new Error(`${store}: upserted ${response.upserted} of ${options.profiles}`);
    return {
      store,
      profiles: options.profiles,
      seconds,
      perSecond: options.profiles / seconds,
      startRssMb: Math.round(startRss / 1024),
      peakRssMb: api.peakRssMb(),
      response,
    };
  } finally {
    await api.stop();
  }
}

/** POSTs the chunks as one chunked NDJSON request, writing no faster than the API reads. */
export function postStream(port: number, apiKey: string, body: AsyncIterable<Buffer>): Promise<ImportBenchResult['response']> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/profiles/import',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/x-ndjson' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return reject(new Error(`import answered ${res.statusCode}: ${text.slice(0, 500)}`));
          resolve(JSON.parse(text) as ImportBenchResult['response']);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    void (async () => {
      try {
        for await (const chunk of body) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      } catch (err) {
        req.destroy(err as Error);
      }
    })();
  });
}
