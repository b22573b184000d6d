import type { Client } from '@temporalio/client';
import type { RunJson } from '../api/run-view';
import { readHistory } from './history';
import type { Store } from '../store';
import type { ProfileInput } from '../store/profiles';
import { bar, endProgress, fetchJson, fmt, progress, secs, sleep } from './harness';
import { benchProfile } from './profiles';

/**
 * The incremental part of `npm run bench -- --changed F`: after a first full run, the mapped
 * attributes (first name) of a share F of the profiles change, and the export runs again. The
 * ledger should make that run send exactly the changed contacts, with a handful of requests.
 */

export interface IncrementalResult {
  incrementalSeconds: number;
  /** Constant Contact requests of the second run (the sandbox's count). */
  incrementalRequests: number;
  incrementalSent: number;
  changedProfiles: number;
}

export type Api = <T = unknown>(method: string, path: string, body?: unknown) => Promise<T>;

/** Starts a run of the export and polls it to its end, showing its progress. */
export async function runToEnd(api: Api, exportId: string, onPhase: (phase: string) => void = () => undefined): Promise<{ run: RunJson; seconds: number }> {
  const t0 = Date.now();
  const { run } = await api<{ run: RunJson }>('POST', `/v1/exports/${exportId}/runs`);
  for (;;) {
    const ended = await api<RunJson>('GET', `/v1/runs/${run.id}`);
    const p = ended.progress;
    onPhase(p.phase);
    progress(`${bar(p.percent)} ${String(p.percent).padStart(3)}% ${p.phase.padEnd(18)} chunks ${p.chunksDone}/${p.chunksTotal}  ${secs((Date.now() - t0) / 1000)}`);
    if (ended.status !== 'running') {
      const seconds = (Date.now() - t0) / 1000;
      endProgress(`run ${ended.status} in ${secs(seconds)}`);
      if (ended.status !== 'succeeded') throw new Error(`the run ended ${ended.status}: ${JSON.stringify(ended.error)}`);
      return { run: ended, seconds };
    }
    await sleep(250);
  }
}

/** Changes the first name of every `step`-th profile (a share `fraction` of them); answers how many. */
async function changeProfiles(store: Store, profiles: number, fraction: number): Promise<number> {
  const step = Math.max(1, Math.round(1 / fraction));
  const now = new Date().toISOString();
  let changed = 0;
  let batch: ProfileInput[] = [];
  for (let j = 0; j < profiles; j += step) {
    const { id, ...attributes } = benchProfile(j);
    batch.push({ id, attributes: { ...attributes, firstName: `${String(attributes.firstName ?? '')}-changed` } });
    changed++;
    if (batch.length >= 10_000) {
      await store.profiles.upsertMany(batch, now);
      batch = [];
    }
  }
  if (batch.length) await store.profiles.upsertMany(batch, now);
  return changed;
}

export async function runIncremental(input: {
  store: Store;
  api: Api;
  sandboxBase: string;
  exportId: string;
  segmentId: string;
  profiles: number;
  fraction: number;
  temporal: Client;
  log: (line: string) => void;
}): Promise<IncrementalResult> {
  const { store, api, log } = input;
  const changedProfiles = await changeProfiles(store, input.profiles, input.fraction);
  await store.segments.refresh(input.segmentId);
  log(`   changed the first name of ${fmt(changedProfiles)} profiles`);
  const before = await fetchJson<{ requests: number }>(`${input.sandboxBase}/__sandbox/stats`);
  const { run, seconds } = await runToEnd(api, input.exportId);
  const after = await fetchJson<{ requests: number }>(`${input.sandboxBase}/__sandbox/stats`);
  const c = run.counts;
  log(`   sent ${fmt(c.sent)} (updated ${fmt(c.updated)}, added ${fmt(c.added)}), unchanged ${fmt(c.unchanged)}, suppressed ${fmt(c.suppressed)}; ${after.requests - before.requests} Constant Contact requests`);
  const history = await readHistory(input.temporal, run.workflowId);
  log('   time per phase (from the workflow history):');
  for (const [name, s] of Object.entries(history.phases)) log(`     ${name.padEnd(34)} ${secs(s)}`);
  return { incrementalSeconds: Math.round(seconds * 10) / 10, incrementalRequests: after.requests - before.requests, incrementalSent: c.sent, changedProfiles };
}
