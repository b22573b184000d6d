import { DEFAULT_LIST_ID } from '../../sandbox/server';
import type { Attributes } from '../../store/types';
import type { Store } from '../../store';
import { connectSandboxConnection, type ApiDriver, type TestApp } from '../helpers/app';
import type { Client } from '@temporalio/client';
import type { RunJson } from '../../api/run-view';
import type { RunCounts } from '../../store/types';
import { nextUtcMidnight, type RateLimitRepository } from '../../store/rate-limits';

/**
 * Fictional profiles for the export-run tests, deterministic by index, with the awkward cases a
 * real profile store has: missing, invalid and too-long emails, the same email in another case on
 * two profiles, names over 50 characters.
 */

const FIRST = ['Anna', 'Boris', 'Carla', 'Dmitri', 'Elena', 'Farid', 'Greta', 'Hugo', 'Ilze', 'Janis', 'Kaija', 'Liam', 'Marta', 'Nils', 'Olga', 'Peteris'];
const LAST = ['Abols', 'Berzina', 'Celmins', 'Dumpe', 'Eglite', 'Freimanis', 'Gailis', 'Hermanis', 'Irbe', 'Jansons', 'Kalnina', 'Liepa'];

export type ProfileKind = 'ok' | 'missing' | 'invalid' | 'too-long' | 'duplicate';

export interface Fixture {
  id: string;
  attributes: Attributes;
  kind: ProfileKind;
}

export const pid = (i: number) => `p${String(i).padStart(8, '0')}`;

export function fixtureProfile(i: number, options: { awkward?: boolean } = {}): Fixture {
  const first = FIRST[i % FIRST.length];
  const last = LAST[Math.floor(i / FIRST.length) % LAST.length];
  const email = `${first}.${last}.${i}@example.com`.toLowerCase();
  const attributes: Attributes = { EmailAddress: email, FirstName: first, LastName: last, Tier: i % 3 === 0 ? 'gold' : 'silver', Country: i % 2 ? 'LV' : 'EE' };
  let kind: ProfileKind = 'ok';
  if (options.awkward !== false) {
    if (i % 97 === 1) {
      delete attributes.EmailAddress;
      kind = 'missing';
    } else if (i % 89 === 2) {
      attributes.EmailAddress = `not an email ${i}`;
      kind = 'invalid';
    } else if (i % 83 === 3) {
      attributes.EmailAddress = `${'x'.repeat(45)}.${i}@example.com`;
      kind = 'too-long';
    } else if (i % 79 === 4 && i > 0 && fixtureProfile(i - 1, options).kind === 'ok') {
      // The email of profile i-1 in capitals and with blanks around: the same contact for Constant Contact.
      attributes.EmailAddress = `  ${fixtureProfile(i - 1, options).attributes.EmailAddress}  `.toUpperCase();
      kind = 'duplicate';
    } else if (i % 71 === 5) {
      attributes.FirstName = `${first}-${'Long'.repeat(15)}`;
    }
  }
  return { id: pid(i), attributes, kind };
}

/** Writes profiles 0..n-1 straight into the store, in batches. */
export async function seedProfiles(store: Store, n: number, options: { awkward?: boolean; from?: number } = {}): Promise<void> {
  const batch = 5000;
  const from = options.from ?? 0;
  for (let i = from; i < from + n; i += batch) {
    const items = [];
    for (let j = i; j < Math.min(from + n, i + batch); j++) {
      const f = fixtureProfile(j, options);
      items.push({ id: f.id, attributes: f.attributes });
    }
    await store.profiles.upsertMany(items);
  }
}

/** What the list must hold after exporting profiles 0..n-1: one normalized email per contact. */
export function expectedEmails(n: number, options: { awkward?: boolean; from?: number } = {}): { emails: Set<string>; rejected: number; duplicates: number } {
  const emails = new Set<string>();
  let rejected = 0;
  let duplicates = 0;
  const from = options.from ?? 0;
  for (let i = from; i < from + n; i++) {
    const f = fixtureProfile(i, options);
    if (f.kind === 'missing' || f.kind === 'invalid' || f.kind === 'too-long') {
      rejected++;
      continue;
    }
    const key = String(f.attributes.EmailAddress).trim().toLowerCase();
    if (emails.has(key)) duplicates++;
    else emails.add(key);
  }
  return { emails, rejected, duplicates };
}

export interface ExportSetup {
  connectionId: string;
  segmentId: string;
  exportId: string;
}

/** A connected sandbox connection, a segment of every profile (refreshed) and an export to the default list. */
export async function setupExport(
  app: ApiDriver,
  options: { connectionId?: string; rule?: unknown; mapping?: Record<string, unknown>; listId?: string; name?: string; usableBy?: 'admins' | 'admins-and-contributors' } = {},
): Promise<ExportSetup> {
  const admin = app.as('admin');
  const connectionId = options.connectionId ?? (await connectSandboxConnection(app, { usableBy: options.usableBy }));
  const segment = await admin.post('/v1/segments', { name: 'Everyone', rule: options.rule ?? { all: [] } });
  if (segment.status !== 201) throw new Error(`POST /v1/segments: ${segment.status} ${segment.text}`);
  const refreshed = await admin.post(`/v1/segments/${segment.body.id}/refresh`);
  if (refreshed.status !== 200) throw new Error(`refresh: ${refreshed.status} ${refreshed.text}`);
  const created = await admin.post('/v1/exports', {
    name: options.name ?? 'Spring newsletter',
    connectionId,
    listId: options.listId ?? DEFAULT_LIST_ID,
    mapping: options.mapping ?? { email: 'EmailAddress', firstName: 'FirstName', lastName: 'LastName' },
    segmentIds: [segment.body.id],
    schedule: { mode: 'off' },
  });
  if (created.status !== 201) throw new Error(`POST /v1/exports: ${created.status} ${created.text}`);
  return { connectionId, segmentId: segment.body.id, exportId: created.body.id };
}

export async function startRunViaApi(app: ApiDriver, exportId: string): Promise<RunJson> {
  const res = await app.as('admin').post(`/v1/exports/${exportId}/runs`);
  if (res.status !== 202) throw new Error(`POST /v1/exports/${exportId}/runs: ${res.status} ${res.text}`);
  return res.body.run;
}

/** Polls GET /v1/runs/{id} until the run is no longer running (or `until` holds). */
export async function waitForRun(app: ApiDriver, runId: string, options: { timeoutMs?: number; until?: (run: RunJson) => boolean } = {}): Promise<RunJson> {
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  const until = options.until ?? ((run: RunJson) => run.status !== 'running');
  let last: RunJson | undefined;
  for (;;) {
    const res = await app.as('admin').get<RunJson>(`/v1/runs/${runId}`);
    last = res.body;
    if (res.status === 200 && until(res.body)) return res.body;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not get there in time; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface SandboxMember {
  contactId: string;
  email: string;
  firstName?: string;
  lastName?: string;
  customFields: Record<string, string>;
  permissionToSend: string;
}

export interface SandboxStats {
  requests: number;
  throttled: number;
  maxRequestsInOneSecond: number;
  importRequests: number;
  importedContacts: number;
  byRoute: Record<string, number>;
  /** Faults the sandbox injected (PUT /__sandbox/faults). */
  injectedErrors: number;
  injectedThrottles: number;
  injectedResets: number;
}

/** The members of a sandbox list, as the sandbox's control API reports them. */
export async function listMembers(app: Pick<TestApp, 'sandboxAddress'>, listId = DEFAULT_LIST_ID): Promise<SandboxMember[]> {
  const res = await fetch(`${app.sandboxAddress.baseUrl}/__sandbox/lists/${listId}/members`);
  const text = await res.text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as SandboxMember);
}

export async function sandboxStats(app: TestApp): Promise<SandboxStats> {
  return (await app.sandboxControl<SandboxStats>('GET', '/stats')).body;
}

export function expectCountsReconcile(counts: RunCounts): void {
  expect(counts.segmentProfiles).toBe(counts.sent + counts.rejected + counts.duplicates);
  expect(counts.sent).toBe(counts.imported + counts.unsubscribed + counts.constantContactErrors);
}

/**
 * The workflow's full history as text, payloads decoded (every execution of the continue-as-new
 * chain): what an operator, or anyone with access to Temporal, can read.
 */
export async function historyText(client: Client, workflowId: string): Promise<{ text: string; events: number; executions: number }> {
  let text = '';
  let events = 0;
  let executions = 0;
  for await (const execution of client.workflow.list({ query: `WorkflowId="${workflowId}"` })) {
    const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
    events += history.events?.length ?? 0;
    executions++;
    text += JSON.stringify(history, (key, value) => {
      if (key === 'data' && typeof value === 'string') return Buffer.from(value, 'base64').toString('utf8');
      if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
      if (value && typeof value === 'object' && value.type === 'Buffer' && Array.isArray(value.data)) return Buffer.from(value.data).toString('utf8');
      return value;
    });
    text += '\n';
  }
  return { text, events, executions };
}

/**
 * The store's rate-limit budget seen from a clock moved forward so that the UTC day ends `endsInMs`
 * after the first request: what a worker sees when a run starts just before midnight. Reservations
 * are made in the moved time and answered in real time, so pacing waits stay real.
 */
export function dayEndingSoon(rateLimits: RateLimitRepository, endsInMs: number): RateLimitRepository {
  let offset: number | undefined;
  const moved = Object.create(rateLimits) as RateLimitRepository;
  moved.reserve = async (key, limits, nowMs, options) => {
    offset ??= nextUtcMidnight(nowMs) - endsInMs - nowMs;
    const r = await rateLimits.reserve(key, limits, nowMs + offset, options);
    return r.exhausted ? { exhausted: true, resetAtMs: r.resetAtMs - offset } : { ...r, sendAtMs: r.sendAtMs - offset };
  };
  return moved;
}
