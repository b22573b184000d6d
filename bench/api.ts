import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { coreShare, describeCores, postgresBackendGroups, processGroups } from './cores';
import { baseEnv, endProgress, fetchJson, fmt, nodeOptionsFrom, progress, secs, sleep, spawnChild, startApiProcess, writeChunks, type ApiProcess } from './harness';
import { postStream } from './import';
import { benchNdjson } from './profiles';
import { benchStoreEnv, cleanupOnSignal, connectSandbox, DIST, startSandbox, startTemporal, stackEnv, type Cleanups } from './stack';

/**
 * `npm run bench -- api [--profiles N] [--store sqlite|postgres] [--seconds S] [--connections C] [--apis A]`
 *
 * Does the API keep answering while the store works hard? Starts a Temporal dev server, the
 * sandbox, and the API and a worker as processes each in a session of its own (as `npm start`
 * runs them) over a fresh store, imports N profiles (default
 * 1,000,000) through the API, and makes a segment of all of them, an export of it and a small
 * finished run. Then autocannon loads three routes at once, C connections each (default 16):
 * `GET /healthz`, `GET /v1/segments`, `GET /v1/runs/{id}`, for a one-second warm-up (its
 * connections open) and then S measured seconds (default 20),
 *
 *   quiet: nothing else happens;
 *   heavy: from the end of the warm-up, N more profiles are imported, the segment is refreshed
 *          over and over (each refresh over at least N profiles) and the export runs over the N
 *          profiles.
 *
 * It prints requests per second, p50, p99 and max latency and errors per route and phase, the API's
 * own event loop delay per phase (from its /metrics), the share of the cores each process used
 * (the API, the worker, the sandbox, this process, and on PostgreSQL its backends by application
 * name; bench/cores.ts) and which of them the kernel weighed as one (their cgroup or session). Its
 * last line is one JSON object with those figures, the time of GET /v1/profile-attributes at N
 * profiles, and whether the targets hold in the heavy phase: max ≤ 250 ms, p99 ≤ 50 ms, no errors,
 * reads at least half as many per second as quiet.
 *
 * `--apis A` (PostgreSQL only: the SQLite store belongs to one process) starts A API processes on
 * the one database, as a deployment behind a load balancer runs them, and spreads each route's C
 * connections over them; the heavy work goes through the first. One Node process answers on one
 * core: this shows what a second one gives.
 */

export interface ApiBenchOptions {
  profiles: number;
  store: 'sqlite' | 'postgres';
  seconds: number;
  connections: number;
  /** API processes sharing the load (PostgreSQL only). */
  apis: number;
  databaseUrl: string;
  log: (line: string) => void;
}

export interface RouteFigures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
}

export const API_TARGETS = { maxMs: 250, p99Ms: 50, throughputShare: 0.5 };

export function apiBenchOptions(args: string[], env: NodeJS.ProcessEnv = process.env): ApiBenchOptions {
  const o: ApiBenchOptions = {
    profiles: 1_000_000,
    store: 'sqlite',
    seconds: 20,
    connections: 16,
    apis: 1,
    databaseUrl: env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    log: (line) => process.stdout.write(`${line}\n`),
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split('=', 2);
    const value = () => inline ?? args[++i];
    const positive = (name: string) => {
      const n = Number(String(value()).replace(/[_,]/g, ''));
      if (!Number.isInteger(n) || n < 1) throw new Error(`${name} takes a positive integer`);
      return n;
    };
    if (flag === '--profiles') o.profiles = positive('--profiles');
    else if (flag === '--seconds') o.seconds = positive('--seconds');
    else if (flag === '--connections') o.connections = positive('--connections');
    else if (flag === '--apis') o.apis = positive('--apis');
    else if (flag === '--store') {
      const s = value();
      if (s !== 'sqlite' && s !== 'postgres') throw new Error('--store takes sqlite or postgres');
      o.store = s;
    } else throw new Error(`unknown option ${args[i]} (api takes --profiles N, --store sqlite|postgres, --seconds S, --connections C, --apis A)`);
  }
  if (o.apis > 1 && o.store !== 'postgres') throw new Error('--apis above 1 needs --store postgres: the SQLite store belongs to one process');
  return o;
}

export async function runApiBench(options: ApiBenchOptions): Promise<unknown> {
  const log = options.log;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segment-export-bench-api-'));
  const cleanups: Cleanups = [async () => fs.rmSync(dir, { recursive: true, force: true })];
  const { cleanup, release } = cleanupOnSignal(cleanups, log);
  try {
    const apiCount = options.apis > 1 ? `, ${options.apis} API processes sharing them` : '';
    log(`API load benchmark: ${fmt(options.profiles)} profiles, ${options.store} store, ${options.seconds} s a phase, ${options.connections} connections a route${apiCount}`);
    const temporalAddress = await startTemporal(dir, cleanups, log);
    const sandbox = await startSandbox(cleanups);
    const storeEnv = await benchStoreEnv(options.store, dir, options.databaseUrl, cleanups);
    // The heavy phase imports N more profiles and refreshes the segment over them: an export run
    // that starts after such a refresh sees up to 2N members, which must not be refused.
    const env = { ...stackEnv({ storeEnv, temporalAddress, sandboxPort: sandbox.port, maxProfiles: 2 * options.profiles }), SECRETS_KEY: randomBytes(32).toString('hex') };
    // The API and the worker each in a session of their own, as `npm start` runs them: with Linux's
    // autogroup the kernel shares the cores between sessions first, so they do not share one with
    // the load generator, and the worker lowers its session (WORKER_NICE).
    const apis: ApiProcess[] = [];
    for (let i = 0; i < options.apis; i++) {
      const started = await startApiProcess(path.join(DIST, 'api', 'main.js'), { ...env, ...nodeOptionsFrom('BENCH_API_NODE_OPTIONS') }, { ownSession: true });
      cleanups.push(() => started.stop());
      apis.push(started);
    }
    const api = apis[0];
    const worker = spawnChild('worker', path.join(DIST, 'worker', 'main.js'), { ...baseEnv(), ...env, LOG_LEVEL: 'info' }, path.join(dir, 'worker.log'), { ownSession: true });
    cleanups.push(() => worker.stop());
    const call = <T>(method: string, p: string, body?: unknown) => fetchJson<T>(`${api.baseUrl}${p}`, method, body, { authorization: `Bearer ${api.adminKey}` });

    // ---- the data
    const body = path.join(dir, 'profiles.ndjson');
    const more = path.join(dir, 'more.ndjson');
    await writeChunks(body, benchNdjson(options.profiles));
    await writeChunks(more, benchNdjson(options.profiles, { from: options.profiles }));
    let t = Date.now();
    await postStream(api.port, api.adminKey, fs.createReadStream(body, { highWaterMark: 64 * 1024 }));
    log(`imported ${fmt(options.profiles)} profiles in ${secs((Date.now() - t) / 1000)}`);
    const attributesMs = await timeRequests(() => call('GET', '/v1/profile-attributes'), 20);
    log(`GET /v1/profile-attributes at ${fmt(options.profiles)} profiles: median ${attributesMs.median} ms, max ${attributesMs.max} ms (20 requests one after the other)`);
    const everyone = await call<{ id: string }>('POST', '/v1/segments', { name: 'Bench: every profile', rule: { all: [] } });
    const few = await call<{ id: string }>('POST', '/v1/segments', { name: 'Bench: a few', rule: { attribute: 'age', op: 'eq', value: 18 } });
    t = Date.now();
    await call('POST', `/v1/segments/${everyone.id}/refresh`);
    log(`refreshed a segment of ${fmt(options.profiles)} in ${secs((Date.now() - t) / 1000)}`);
    await call('POST', `/v1/segments/${few.id}/refresh`);
    const connectionId = await connectSandbox(api.baseUrl, api.adminKey);
    const exportOf = (segmentId: string, name: string) =>
      call<{ id: string }>('POST', '/v1/exports', { name, connectionId, listId: '00000000-0000-4000-8000-000000000001', mapping: { email: 'email' }, segmentIds: [segmentId], schedule: { mode: 'off' } });
    const big = await exportOf(everyone.id, 'Bench: every profile');
    const small = await exportOf(few.id, 'Bench: a few');
    await worker.waitFor('worker started');
    const smallRun = await runToEnd(call, small.id);
    const routes = ['/healthz', '/v1/segments', `/v1/runs/${smallRun}`];
    const eventLoops: Record<string, EventLoopFigures> = {};
    const coresUsed: Record<string, Record<string, number>> = {};
    const schedulingGroups: Record<string, string> = {};
    const coreSources = [
      processGroups({ ...Object.fromEntries(apis.map((a, i) => [apis.length > 1 ? `API ${i + 1}` : 'API', a.child.pid])), worker: worker.child.pid, sandbox: sandbox.child.child.pid, 'load generator': process.pid }),
      ...(options.store === 'postgres' ? [postgresBackendGroups(options.databaseUrl)] : []),
    ];
    /** A phase's load, the API's own event loop and where the cores went over it (the load generator measures its own delays too). */
    const load = async (phase: string, afterWarmup: () => void = () => undefined): Promise<Record<string, RouteFigures>> => {
      const cores = coreShare(coreSources);
      let measuring: Promise<void> | undefined;
      const figures = await loadRoutes(apis, routes, options, () => {
        void apisEventLoop(apis).catch(() => undefined); // their figures restart with the measured part
        measuring = cores.start();
        afterWarmup();
      });
      await measuring;
      ({ cores: coresUsed[phase], schedulingGroups: schedulingGroups[phase] } = await cores.stop());
      eventLoops[phase] = await apisEventLoop(apis);
      return figures;
    };

    // ---- quiet
    log('');
    log('quiet: the three routes alone');
    const quiet = await load('quiet');
    printPhase(log, quiet, eventLoops.quiet, coresUsed.quiet, schedulingGroups.quiet);

    // ---- heavy
    log('');
    log(`heavy: the same load while ${fmt(options.profiles)} more profiles are imported, the segment of every profile is refreshed again and again, and it is exported`);
    let heavyStarted = 0;
    let phaseOver = false;
    const work: string[] = [];
    const failures: string[] = [];
    let refreshes = 0;
    let heavyWork: Promise<unknown>[] = [];
    let exportRun: Promise<{ run: { id: string } }> | undefined;
    // The heavy work starts once the load generator's connections are open and measuring begins.
    const startHeavyWork = () => {
      heavyStarted = Date.now();
      const importing = postStream(api.port, api.adminKey, fs.createReadStream(more, { highWaterMark: 64 * 1024 })).then(
        () => work.push(`import of ${fmt(options.profiles)} done after ${secs((Date.now() - heavyStarted) / 1000)}`),
        (err: Error) => failures.push(`import: ${err.message}`),
      );
      exportRun = call<{ run: { id: string } }>('POST', `/v1/exports/${big.id}/runs`);
      exportRun.catch(() => undefined); // awaited when the phase ends
      const refreshing = (async () => {
        while (!phaseOver) {
          await call('POST', `/v1/segments/${everyone.id}/refresh`).then(
            () => refreshes++,
            (err: Error) => failures.push(`refresh: ${err.message}`),
          );
        }
      })();
      heavyWork = [importing, refreshing];
    };
    const heavy = await load('heavy', startHeavyWork);
    phaseOver = true;
    const { run } = await exportRun!;
    const runNow = await call<{ status: string; progress: { phase: string; percent: number }; error: { code: string } | null }>('GET', `/v1/runs/${run.id}`);
    work.push(`export run ${runNow.status} (${runNow.progress.phase}, ${runNow.progress.percent}%) when the phase ended`);
    if (runNow.status === 'failed') failures.push(`export run: ${runNow.error?.code ?? 'no error code'}`);
    await Promise.all(heavyWork);
    work.push(`${refreshes} refreshes of ${fmt(options.profiles)}+ profiles`);
    if (runNow.status === 'running') await call('POST', `/v1/runs/${run.id}/cancel`).catch(() => undefined);
    printPhase(log, heavy, eventLoops.heavy, coresUsed.heavy, schedulingGroups.heavy);
    log(`   during it: ${work.join('; ')}`);
    for (const f of failures) log(`   FAILED ${f}`);

    const result = {
      store: options.store,
      profiles: options.profiles,
      seconds: options.seconds,
      connections: options.connections,
      apis: options.apis,
      profileAttributesMs: attributesMs,
      phases: { quiet, heavy },
      apiEventLoopMs: eventLoops,
      coresUsed,
      schedulingGroups,
      heavyWorkFailures: failures.length,
      targetsHeld: failures.length === 0 && targetsHeld(quiet, heavy),
    };
    log('');
    log(`targets in the heavy phase (max ≤ ${API_TARGETS.maxMs} ms, p99 ≤ ${API_TARGETS.p99Ms} ms, no errors, reads ≥ half of quiet): ${result.targetsHeld ? 'held' : 'missed'}`);
    log(JSON.stringify(result));
    return result;
  } finally {
    release();
    endProgress('');
    await cleanup();
  }
}

/** The median and the slowest of `n` calls one after the other, in ms. */
async function timeRequests(fn: () => Promise<unknown>, n: number): Promise<{ median: number; max: number }> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn();
    ms.push(Math.round(Number(process.hrtime.bigint() - t) / 1e5) / 10);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(n / 2)], max: ms[n - 1] };
}

/** Starts a run of the export and waits until it ends; its id. */
async function runToEnd(call: <T>(method: string, p: string, body?: unknown) => Promise<T>, exportId: string): Promise<string> {
  const { run } = await call<{ run: { id: string } }>('POST', `/v1/exports/${exportId}/runs`);
  for (;;) {
    const now = await call<{ status: string }>('GET', `/v1/runs/${run.id}`);
    if (now.status !== 'running') return run.id;
    progress(`waiting for a small run to end (${now.status})`);
    await sleep(250);
  }
}

/**
 * The load generator's first second in a phase: it opens all its connections at once (3 routes ×
 * `connections`), and the first answers on the routes started last wait behind that (seen: up to
 * 0.9 s measured by autocannon, while the API's own histogram had every one of them under 0.1 s).
 * A phase measures what the requests sent after it take.
 */
export const WARMUP_MS = 1000;

/**
 * autocannon on every route at once, `connections` each (spread over the APIs), for the warm-up
 * and then the phase's seconds; `afterWarmup` is called when measuring starts. Latencies and rates
 * count the requests sent after the warm-up; errors count the whole run.
 */
async function loadRoutes(apis: readonly ApiProcess[], routes: string[], options: ApiBenchOptions, afterWarmup: () => void = () => undefined): Promise<Record<string, RouteFigures>> {
  const measureFrom = performance.now() + WARMUP_MS;
  const measuring = setTimeout(afterWarmup, WARMUP_MS);
  const shares = spreadConnections(options.connections, apis.length);
  const targets = apis.map((api, i) => ({ api, connections: shares[i] })).filter((t) => t.connections > 0);
  const figures = await Promise.all(
    routes.map(async (route) => {
      const latencies: number[] = [];
      const onLatency = (ms: number) => {
        if (performance.now() - ms >= measureFrom) latencies.push(ms);
      };
      const results = await Promise.all(targets.map((t) => autocannonOn(t.api, route, t.connections, options.seconds + WARMUP_MS / 1000, onLatency)));
      const errors = results.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0);
      return [route.replace(/run_[\w-]+$/, '{id}'), { ...latencyFigures(latencies, options.seconds), errors }] as const;
    }),
  );
  clearTimeout(measuring);
  return Object.fromEntries(figures);
}

/** autocannon on one route of one API for `seconds`, telling each answer's latency. */
function autocannonOn(api: ApiProcess, route: string, connections: number, seconds: number, onLatency: (ms: number) => void): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: `${api.baseUrl}${route}`, connections, duration: seconds, headers: { authorization: `Bearer ${api.adminKey}` }, timeout: 10 },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => onLatency(responseTime));
  });
}

/** `connections` spread as evenly as they go over `apis` processes. */
export function spreadConnections(connections: number, apis: number): number[] {
  return Array.from({ length: apis }, (_, i) => Math.floor(connections / apis) + (i < connections % apis ? 1 : 0));
}

/** Requests a second, p50, p99 and max (ms, rounded) of the latencies measured over `seconds`. */
export function latencyFigures(latencies: number[], seconds: number): Omit<RouteFigures, 'errors'> {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0);
  return { requestsPerSecond: Math.round(sorted.length / seconds), p50: at(0.5), p99: at(0.99), max: at(1) };
}

function printPhase(log: (line: string) => void, figures: Record<string, RouteFigures>, eventLoop: EventLoopFigures, cores: Record<string, number>, schedulingGroups: string): void {
  for (const [route, f] of Object.entries(figures)) {
    log(`   ${route.padEnd(18)} ${fmt(f.requestsPerSecond).padStart(6)} req/s  p50 ${f.p50} ms  p99 ${f.p99} ms  max ${f.max} ms  errors ${f.errors}`);
  }
  log(`   the API's event loop delay (its own /metrics; of several, the slowest): p99 ${eventLoop.p99} ms, max ${eventLoop.max} ms`);
  log(`   cores used: ${describeCores(cores)}`);
  log(`   groups the kernel shared the cores between, before nice counts (those that ran): ${schedulingGroups}`);
}

export interface EventLoopFigures {
  p99: number;
  max: number;
}

/** The slowest of the APIs' event loops (one API: its own). */
async function apisEventLoop(apis: readonly ApiProcess[]): Promise<EventLoopFigures> {
  const each = await Promise.all(apis.map((a) => apiEventLoop(a.baseUrl, a.adminKey)));
  return { p99: Math.max(...each.map((e) => e.p99)), max: Math.max(...each.map((e) => e.max)) };
}

/**
 * The API's event loop delay since the previous call: prom-client's monitor behind /metrics
 * (`nodejs_eventloop_lag_*`), which each read resets. Tells a pause of the API from one of the
 * load generator, which runs in this process.
 */
async function apiEventLoop(baseUrl: string, adminKey: string): Promise<EventLoopFigures> {
  const text = await (await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } })).text();
  const ms = (name: string) => Math.round(Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) * 1000);
  return { p99: ms('nodejs_eventloop_lag_p99_seconds'), max: ms('nodejs_eventloop_lag_max_seconds') };
}

export function targetsHeld(quiet: Record<string, RouteFigures>, heavy: Record<string, RouteFigures>): boolean {
  return Object.entries(heavy).every(
    ([route, f]) =>
      f.max <= API_TARGETS.maxMs &&
      f.p99 <= API_TARGETS.p99Ms &&
      f.errors === 0 &&
      (route === '/healthz' || f.requestsPerSecond >= API_TARGETS.throughputShare * quiet[route].requestsPerSecond),
  );
}
