import fs from 'node:fs';
import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';
import { historyFromJson } from './history-json';

/**
 * Recorded workflow histories: what test/replay/record-histories.ts writes and replay.unit.test.ts
 * replays. One folder per recording (a set), named for the workflow shape it recorded; in it one
 * JSON file per workflow execution (as `temporal workflow show -o json` writes them) and
 * index.json, which names each file's scenario, workflow type and workflow id.
 */

export const HISTORIES_DIR = path.join(__dirname, 'histories');

/** Names the recorder gives its profiles (invented; see scenarios.ts): none may reach a history. */
export const FIRST_NAMES = ['Ottilie', 'Bertrand', 'Casimira', 'Dorothea', 'Evander', 'Philippa', 'Leopoldine', 'Maximus'];
export const LAST_NAMES = ['Quennell', 'Rackhamby', 'Somerbury', 'Thistlewood', 'Underhay', 'Vashtari'];

/** What every set must hold: a history of each kind of run the workflows can have. */
export const SCENARIOS = [
  'upsert-continue-as-new',
  'mirror-approved',
  'quota-wait',
  'cancelled',
  'failed-reauthorization',
  'scheduled',
  'refresh',
  'dry-run',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface IndexEntry {
  file: string;
  scenario: Scenario;
  workflowType: string;
  workflowId: string;
}

export interface RecordedHistory extends IndexEntry {
  set: string;
  /** The file's text (JSON). */
  json: string;
  history: History;
}

/** The sets of recorded histories, oldest first (their names start with a number). */
export function historySets(dir = HISTORIES_DIR): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

export function loadSet(set: string, dir = HISTORIES_DIR): RecordedHistory[] {
  const index = JSON.parse(fs.readFileSync(path.join(dir, set, 'index.json'), 'utf8')) as IndexEntry[];
  return index.map((entry) => {
    const json = fs.readFileSync(path.join(dir, set, entry.file), 'utf8');
    return { ...entry, set, json, history: historyFromJson(JSON.parse(json)) };
  });
}

/** An address: name@domain.tld (not the SDK's `@temporalio/worker@1.24.0` in build ids). */
const EMAIL = /[\w.+%-]+@[\w-]+(\.[\w-]+)*\.[a-z]{2,}\b/gi;

/** Every payload's data, decoded: the history as anyone with access to Temporal reads it. */
export function decodedText(json: string): string {
  const parts = [json];
  JSON.parse(json, (key, value) => {
    if (key === 'data' && typeof value === 'string') parts.push(Buffer.from(value, 'base64').toString('utf8'));
    return value;
  });
  return parts.join('\n');
}

/** The emails and recorder-given names found in a history's JSON (none, for a history fit to keep). */
export function personalDataIn(json: string): string[] {
  const text = decodedText(json);
  const found = new Set<string>(text.match(EMAIL) ?? []);
  const lower = text.toLowerCase();
  for (const name of [...FIRST_NAMES, ...LAST_NAMES]) if (lower.includes(name.toLowerCase())) found.add(name);
  return [...found];
}
