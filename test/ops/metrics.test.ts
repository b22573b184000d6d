import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestApp, type TestApp } from '../helpers/app';
import { exportedNames, scrape, sumOf, type Sample } from '../helpers/metrics';
import { childEnvironment, spawnWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/worker';
import { fixtureProfile, sandboxStats, seedProfiles, setupExport, startRunViaApi, waitForRun } from '../runs/fixtures';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { freePort } = require('../../scripts/processes.js');

/**
 * Both metrics endpoints during a real run: the API's /metrics (prom-client) and a worker process's
 * WORKER_METRICS_ADDRESS (the Temporal SDK's exporter, serving the SDK's metrics and the product's).
 * The sandbox takes fewer calls a second than the client sends, so 429s show; the values are
 * compared with the run's counts and the sandbox's own statistics.
 */

const PROFILES = 600;
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

describe('metrics (SQLite, a worker process)', () => {
  let app: TestApp;
  let worker: WorkerProcess;
  let workerUrl: string;
  const scrapes: { api: Sample[]; worker: Sample[]; texts: string[] } = { api: [], worker: [], texts: [] };

  beforeAll(async () => {
    app = await createTestApp({
      kind: 'sqlite',
      sandbox: { importMsPerContact: 2, importMinMs: 50 },
      env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('metrics'), CC_MAX_CONTACTS_PER_IMPORT: '200', METRICS_TOKEN, LOG_LEVEL: 'info' },
    });
    workerUrl = `http://127.0.0.1:${await freePort()}/metrics`;
    worker = spawnWorker(childEnvironment(app.config, app.testStore.env, { WORKER_METRICS_ADDRESS: new URL(workerUrl).host }));
    await worker.ready;
  });

  afterAll(async () => {
    await worker?.kill();
    await app?.close();
  });

  test('every thread of the worker process runs WORKER_NICE (10) levels below the process that started it', () => {
    const pid = worker.child.pid!;
    const expected = Math.min(19, os.getPriority() + 10);
    const threads = fs.readdirSync(`/proc/${pid}/task`).map((tid) => ({ name: fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), nice: os.getPriority(Number(tid)) }));
    // Those V8 and libuv started before the worker's code ran, and the Temporal SDK's started after.
    expect(threads.length).toBeGreaterThan(5);
    expect(threads.some((t) => t.name.startsWith('tokio'))).toBe(true);
    expect(threads.filter((t) => t.nice !== expected)).toEqual([]);
  });

  test('/metrics answers an admin key or METRICS_TOKEN, and no one else', async () => {
    const url = `${app.baseUrl}/metrics`;
    expect((await scrape(url, `Bearer ${app.adminKey}`)).status).toBe(200);
    const withToken = await scrape(url, `Bearer ${METRICS_TOKEN}`);
    expect(withToken.status).toBe(200);
    expect(withToken.text).toContain('# TYPE http_requests_total counter');
    expect((await scrape(url, `Bearer ${app.contributorKey}`)).status).toBe(403);
    expect((await scrape(url)).status).toBe(401);
    expect((await scrape(url, `Bearer ${METRICS_TOKEN}x`)).status).toBe(401);
  });

  test('a run shows on both endpoints: contacts equal its counts, a sandbox throttle is a 429, requests by route template', async () => {
    await seedProfiles(app.store, PROFILES);
    const { exportId, connectionId } = await setupExport(app);
    const importBody = `${JSON.stringify({ id: 'metrics-1', Country: 'LV' })}\n${JSON.stringify({ id: 'metrics-2' })}\nnot json\n`;
    expect((await app.as('admin').post('/v1/profiles/import', undefined, { raw: importBody, contentType: 'application/x-ndjson' })).status).toBe(200);

    expect((await scrape(`${app.baseUrl}/metrics`)).status).toBe(401);
    // The sandbox takes 1 request a second while the client paces at 4: some calls are throttled (429), and retried.
    expect((await app.sandboxControl('PUT', '/limits', { ratePerSecond: 1 })).status).toBe(200);
    const before = await sandboxStats(app);
    const run = await startRunViaApi(app, exportId);

    // While the run goes, the worker's endpoint already shows its calls to Constant Contact.
    let seenWhileRunning = 0;
    for (;;) {
      const current = await app.as('admin').get(`/v1/runs/${run.id}`);
      if (current.body.status !== 'running') break;
      const live = await scrape(workerUrl);
      expect(live.status).toBe(200);
      seenWhileRunning = Math.max(seenWhileRunning, sumOf(live.samples, 'segment_export_cc_requests_total'));
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(seenWhileRunning).toBeGreaterThan(0);
    const done = await waitForRun(app, run.id);
    expect(done.status).toBe('succeeded');
    await app.sandboxControl('PUT', '/limits', { ratePerSecond: app.sandbox.options.ratePerSecond });
    const after = await sandboxStats(app);

    const workerScrape = await scrape(workerUrl);
    const apiScrape = await scrape(`${app.baseUrl}/metrics`, `Bearer ${METRICS_TOKEN}`);
    scrapes.worker = workerScrape.samples;
    scrapes.api = apiScrape.samples;
    scrapes.texts.push(workerScrape.text, apiScrape.text);
    const w = workerScrape.samples;

    // The product's metrics on the worker's endpoint, with the run's own figures.
    expect(sumOf(w, 'segment_export_runs_ended_total', { status: 'succeeded', trigger: 'on-demand' })).toBe(1);
    expect(sumOf(w, 'segment_export_run_duration_seconds_count', { status: 'succeeded' })).toBe(1);
    expect(sumOf(w, 'segment_export_contacts_total', { kind: 'sent' })).toBe(done.counts.sent);
    expect(sumOf(w, 'segment_export_contacts_total', { kind: 'rejected' })).toBe(done.counts.rejected);
    expect(sumOf(w, 'segment_export_contacts_total', { kind: 'removed' })).toBe(0);
    expect(done.counts.sent).toBeGreaterThan(0);
    expect(done.counts.rejected).toBeGreaterThan(0);

    // Every 429 the sandbox answered during the run is counted, by endpoint template.
    const throttled = after.throttled - before.throttled;
    expect(throttled).toBeGreaterThan(0);
    expect(sumOf(w, 'segment_export_cc_requests_total', { outcome: '429' })).toBe(throttled);
    expect(sumOf(w, 'segment_export_cc_requests_total', { endpoint: 'POST /activities/contacts_json_import', outcome: '2xx' })).toBe(done.progress.chunksTotal);
    expect(sumOf(w, 'segment_export_cc_requests_total')).toBe(after.requests - before.requests);
    for (const s of w.filter((x) => x.name === 'segment_export_cc_requests_total')) expect(s.labels.endpoint).toMatch(/^(GET|POST) \/[a-z_/{}]+$/);

    // Pacing and the daily budget, per connection.
    expect(sumOf(w, 'segment_export_cc_rate_limit_wait_seconds_count')).toBeGreaterThan(0);
    const quota = w.find((s) => s.name === 'segment_export_cc_daily_quota_remaining' && s.labels.connection_id === connectionId);
    expect(quota?.value).toBeGreaterThan(0);
    expect(quota?.value).toBeLessThan(app.config.constantContact.ratePerDay);

    // The Temporal SDK's own metrics on the same endpoint (a throttled call failed its activity's attempt).
    expect(sumOf(w, 'temporal_activity_execution_failed')).toBeGreaterThan(0);

    // The API: requests by route pattern (never a raw path with ids), imports' rows and bytes.
    const a = apiScrape.samples;
    expect(sumOf(a, 'http_requests_total', { method: 'GET', route: '/v1/runs/:id', status: '200' })).toBeGreaterThan(0);
    expect(sumOf(a, 'http_request_duration_seconds_count', { route: '/v1/exports/:id/runs', status: '202' })).toBe(1);
    expect(sumOf(a, 'http_requests_total', { route: '/metrics', status: '401' })).toBeGreaterThan(0);
    for (const s of a.filter((x) => x.name === 'http_requests_total')) expect(s.labels.route).not.toMatch(/(run|exp|seg|con)_[0-9a-z]{9}/);
    expect(sumOf(a, 'segment_export_import_rows_total', { result: 'received' })).toBe(3);
    expect(sumOf(a, 'segment_export_import_rows_total', { result: 'upserted' })).toBe(2);
    expect(sumOf(a, 'segment_export_import_rows_total', { result: 'rejected' })).toBe(1);
    expect(sumOf(a, 'segment_export_import_bytes_total')).toBe(Buffer.byteLength(importBody));
    expect(sumOf(a, 'http_open_connections')).toBeGreaterThanOrEqual(0);
  });

  test('no email, name or token in any metric label, nor in the worker\'s or the API\'s log lines', () => {
    expect(scrapes.texts).toHaveLength(2);
    const text = [...scrapes.texts, worker.output(), ...app.logLines].join('\n');
    const needles = new Set<string>(app.secrets);
    for (let i = 0; i < PROFILES; i++) {
      const { attributes } = fixtureProfile(i);
      if (typeof attributes.EmailAddress === 'string' && attributes.EmailAddress.includes('@')) needles.add(attributes.EmailAddress.trim().toLowerCase());
    }
    needles.add(METRICS_TOKEN);
    expect(needles.size).toBeGreaterThan(100);
    const lower = text.toLowerCase();
    expect([...needles].filter((n) => lower.includes(n.toLowerCase()))).toEqual([]);
    expect(text).not.toMatch(/[\w.+-]+@example\.com/i);
    // Names: the fixture's last names (first names double as common words) never appear as label values.
    for (const s of [...scrapes.worker, ...scrapes.api]) for (const v of Object.values(s.labels)) expect(v).not.toMatch(/Abols|Berzina|Celmins|Jansons|@/);
  });

  test('the Grafana dashboard parses and every metric it names is exported by the API or a worker', () => {
    const dashboard = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../docker/grafana/dashboards/segment-export.json'), 'utf8'));
    const exprs: string[] = [];
    for (const panel of dashboard.panels ?? []) for (const target of panel.targets ?? []) exprs.push(target.expr);
    expect(exprs.length).toBeGreaterThan(5);
    const named = new Set(exprs.flatMap((e) => [...e.matchAll(/\b((?:segment_export|http|temporal|process|nodejs)_[a-z_]+)/g)].map((m) => m[1].replace(/_(bucket|sum|count)$/, ''))));
    const exported = new Set(scrapes.texts.flatMap((text) => [...exportedNames(text)]));
    expect([...named].filter((n) => !exported.has(n))).toEqual([]);
  });
});
