import { newId } from '../../common/ids';
import { DEFAULT_LIST_ID } from '../../sandbox/server';
import type { TestApp } from '../helpers/app';

/**
 * A segment straight in the store (the exports tests need segments to exist, not to match anyone;
 * the segments API has its own tests).
 */
export async function insertSegment(app: TestApp, name = 'Everyone'): Promise<string> {
  const id = newId('seg');
  const now = new Date().toISOString();
  await app.store.db.run('INSERT INTO segments (id, name, rule, created_at, updated_at) VALUES (?, ?, ?, ?, ?)', [
    id,
    name,
    JSON.stringify({ all: [] }),
    now,
    now,
  ]);
  return id;
}

/** A valid export body on the sandbox's default list. */
export function exportBody(connectionId: string, segmentIds: string[], extra: Record<string, unknown> = {}) {
  return {
    name: 'Spring newsletter',
    connectionId,
    listId: DEFAULT_LIST_ID,
    mapping: { email: 'EmailAddress', firstName: 'FirstName', lastName: 'LastName' },
    segmentIds,
    ...extra,
  };
}

/** Creates a custom field in the sandbox account and returns its name (label with blanks as underscores). */
export async function addCustomField(app: TestApp, label: string): Promise<string> {
  const res = await app.sandboxControl('POST', '/custom-fields', { label, type: 'string' });
  if (res.status >= 300) throw new Error(`sandbox custom field: ${res.status} ${res.text}`);
  return (res.body?.name as string | undefined) ?? label.replace(/ /g, '_');
}

export async function addList(app: TestApp, name: string): Promise<string> {
  const res = await app.sandboxControl('POST', '/lists', { name });
  if (res.status >= 300) throw new Error(`sandbox list: ${res.status} ${res.text}`);
  return res.body.listId as string;
}
