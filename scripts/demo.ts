import fs from 'node:fs';
import path from 'node:path';
import type { RunJson } from '../api/run-view';

/**
 * `npm run demo`: against the stack `npm start` runs (API, worker, Temporal, the Constant Contact
 * sandbox), does what a user would do, through the HTTP API only:
 *
 *   1. imports the sample profiles shipped in samples/profiles.ndjson;
 *   2. creates a segment (newsletter subscribers in the Baltic countries) and refreshes it;
 *   3. creates a connection to the sandbox and authorizes it (following the redirects as a browser);
 *   4. creates an export to the sandbox's list and runs it, with a progress bar until it ends;
 *   5. prints the counts, the rejects by reason and the run's link in the Temporal UI.
 *
 * Where the API is: API_URL, else PUBLIC_BASE_URL, else http://127.0.0.1:$PORT (3000).
 * The admin key: DEMO_API_KEY, else the admin entry of API_KEYS, else <DATA_DIR>/api-keys.json
 * (what `npm start` generated).
 */

const ROOT = findRoot(__dirname);

function findRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return process.cwd();
  }
}

const apiUrl = (process.env.API_URL ?? process.env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`).replace(/\/$/, '');
const tty = process.stdout.isTTY;
const fmt = (n: number) => n.toLocaleString('en-US');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line = '') => process.stdout.write(`${line}\n`);

class DemoError extends Error {}

function adminKey(): string {
  if (process.env.DEMO_API_KEY) return process.env.DEMO_API_KEY;
  const fromEnv = (process.env.API_KEYS ?? '')
    .split(',')
    .map((s) => s.trim())
    .find((s) => s.startsWith('admin:'));
  if (fromEnv) return fromEnv.slice('admin:'.length);
  const file = path.resolve(process.env.DATA_DIR ?? path.join(ROOT, '.data'), 'api-keys.json');
  try {
    const keys = JSON.parse(fs.readFileSync(file, 'utf8')) as { admin?: string };
    if (keys.admin) return keys.admin;
  } catch {
    /* below */
  }
  throw new DemoError(`no admin API key: set DEMO_API_KEY or API_KEYS, or start the stack with \`npm start\` (it writes ${file})`);
}

async function call<T = unknown>(key: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; text: string }> {
  let res: Response;
  try {
    res = await fetch(`${apiUrl}${p}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array) ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
  } catch {
    throw new DemoError(`the API does not answer at ${apiUrl}: start the stack with \`npm start\` (or set API_URL)`);
  }
  const text = await res.text();
  return { status: res.status, body: jsonOrUndefined(text) as T, text };
}

/** The JSON of an answer's body; undefined when it is empty or not JSON (the text tells then). */
function jsonOrUndefined(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function must<T = unknown>(key: string, method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  const r = await call<T>(key, method, p, body, headers);
  if (r.status >= 300) {
    const error = (r.body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new DemoError(`${method} ${p} answered ${r.status}${error ? `: ${error.code}: ${error.message}` : ''}`);
  }
  return r.body;
}

function bar(percent: number, width = 32): string {
  const n = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'█'.repeat(n)}${'░'.repeat(width - n)}]`;
}

/** Follows an authorize URL as a browser would; true when it ended on our callback page with 200. */
async function authorizeInSandbox(authorizeUrl: string): Promise<boolean> {
  let url = authorizeUrl;
  for (let hop = 0; hop < 6; hop++) {
    const res = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    await res.text();
    const location = res.headers.get('location');
    if (!location) return res.status === 200;
    url = new URL(location, url).toString();
  }
  return false;
}

async function main(): Promise<void> {
  const key = adminKey();
  const ready = await call(key, 'GET', '/readyz');
  if (ready.status !== 200) {
    throw new DemoError(`the stack is not ready (${ready.text.trim() || ready.status}): start it with \`npm start\` and try again`);
  }
  say(`Demo against ${apiUrl}`);
  const stamp = new Date().toISOString().slice(0, 19).replace('T', ' ');

  // 1. profiles
  const file = path.join(ROOT, 'samples', 'profiles.ndjson');
  const imported = await must<{ upserted: number; rejected: number }>(key, 'POST', '/v1/profiles/import', fs.readFileSync(file), { 'content-type': 'application/x-ndjson' });
  say(`1. imported ${fmt(imported.upserted)} sample profiles from samples/profiles.ndjson (${imported.rejected} bad lines)`);

  // 2. segment
  const segment = await must<{ id: string; name: string }>(key, 'POST', '/v1/segments', {
    name: `Demo: Baltic newsletter subscribers (${stamp})`,
    rule: { all: [{ attribute: 'Newsletter', op: 'eq', value: true }, { attribute: 'Country', op: 'in', value: ['LV', 'EE', 'LT'] }] },
  });
  const refreshed = await must<{ memberCount: number }>(key, 'POST', `/v1/segments/${segment.id}/refresh`);
  say(`2. segment "${segment.name}": ${fmt(refreshed.memberCount)} profiles`);

  // 3. connection
  const connection = await must<{ id: string; displayName: string; authorizeUrl: string }>(key, 'POST', '/v1/connections', { displayName: `Demo sandbox (${stamp})`, usableBy: 'admins', dataPrivacyConsent: true });
  const authorized = await authorizeInSandbox(connection.authorizeUrl);
  const connectionStatus = async () => (await must<{ status: string }>(key, 'GET', `/v1/connections/${connection.id}`)).status;
  let status = await connectionStatus();
  if (!authorized || status !== 'connected') {
    // A real Constant Contact account: a person signs in. Wait for them.
    say(`3. open this link in a browser and sign in to Constant Contact:\n   ${connection.authorizeUrl}`);
    const deadline = Date.now() + 10 * 60_000;
    while (status !== 'connected' && Date.now() < deadline) {
      await sleep(2000);
      status = await connectionStatus();
    }
    if (status !== 'connected') throw new DemoError('the connection was not authorized within 10 minutes');
  }
  const lists = await must<{ items: { listId: string; name: string; memberCount: number }[] }>(key, 'GET', `/v1/connections/${connection.id}/lists`);
  const list = lists.items.find((l) => l.name === 'Sandbox list') ?? lists.items[0];
  if (!list) throw new DemoError('the Constant Contact account has no list to export to');
  say(`3. connection "${connection.displayName}" is connected; exporting to list "${list.name}" (${list.listId})`);

  // 4. export and run
  const exp = await must<{ id: string; name: string }>(key, 'POST', '/v1/exports', {
    name: `Demo export (${stamp})`,
    connectionId: connection.id,
    listId: list.listId,
    mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName' },
    segmentIds: [segment.id],
    schedule: { mode: 'off' },
  });
  const { run } = await must<{ run: RunJson }>(key, 'POST', `/v1/exports/${exp.id}/runs`);
  say(`4. export "${exp.name}" is running: run ${run.id}`);
  let current = run;
  let lastLine = '';
  const started = Date.now();
  for (;;) {
    current = await must<RunJson>(key, 'GET', `/v1/runs/${run.id}`);
    const p = current.progress;
    const line = `   ${bar(p.percent)} ${String(p.percent).padStart(3)}%  ${p.phase.padEnd(18)} chunks ${p.chunksDone}/${p.chunksTotal}  ${((Date.now() - started) / 1000).toFixed(0)} s`;
    if (tty) process.stdout.write(`\r${line}`);
    else if (line.replace(/\d+ s$/, '') !== lastLine.replace(/\d+ s$/, '')) say(line);
    lastLine = line;
    if (current.status !== 'running') break;
    await sleep(500);
  }
  if (tty) process.stdout.write('\n');

  // 5. results
  const c = current.counts;
  say(`5. the run ${current.status}${current.error ? `: ${current.error.code}: ${current.error.message}` : ''}`);
  say(`   profiles in the segment   ${fmt(c.segmentProfiles)}`);
  say(`   sent to Constant Contact  ${fmt(c.sent)}  (imported ${fmt(c.imported)}, unsubscribed ${fmt(c.unsubscribed)}, errors ${fmt(c.constantContactErrors)})`);
  say(`   rejected                  ${fmt(c.rejected)}`);
  say(`   duplicates                ${fmt(c.duplicates)}`);
  const rejects = await call(key, 'GET', `/v1/runs/${run.id}/rejects`);
  if (rejects.status === 200) {
    const byReason = new Map<string, number>();
    for (const line of rejects.text.split('\n').filter(Boolean)) {
      const reason = (JSON.parse(line) as { reason: string }).reason;
      byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
    }
    if (byReason.size) say(`   rejects by reason         ${[...byReason].map(([r, n]) => `${r} ${n}`).join(', ')}  (GET /v1/runs/${run.id}/rejects)`);
  }
  say(`   Temporal UI               ${current.temporalUiUrl}`);
  if (current.status !== 'succeeded') process.exitCode = 1;
}

main().catch((err: unknown) => {
  if (tty) process.stdout.write('\n');
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
