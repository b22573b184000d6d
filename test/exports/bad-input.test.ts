import { connectSandboxConnection, createTestApp, type Caller, type TestApp } from '../helpers/app';
import { storeKinds } from '../helpers/stores';
import { exportBody, insertSegment } from './fixtures';

/**
 * Malformed requests across the connections and exports routes: each gets its 4xx status and code,
 * never a 500, and leaves every table of the store as it was (rate_limits is excluded: it paces calls
 * to Constant Contact, which some of these checks make, and holds no product state).
 */

interface Ctx {
  connectionId: string;
  adminOnlyId: string;
  pendingId: string;
  segmentId: string;
  exportId: string;
}

interface Case {
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: (c: Ctx) => string;
  body?: (c: Ctx) => unknown;
  raw?: string;
  contentType?: string;
  caller?: Caller;
  status: number;
  code: string;
  /** For validation_failed: a field path the details must name (dot-joined). */
  field?: string;
}

const NOT_A_LIST = '3f1c2b7a-9d2e-4c1b-8a7f-0123456789ab';
const big = 'x'.repeat(1024 * 1024 + 10);
const withExport = (patch: Record<string, unknown>, drop: string[] = []) => (c: Ctx) => {
  const body: Record<string, unknown> = { ...exportBody(c.connectionId, [c.segmentId]), ...patch };
  for (const key of drop) delete body[key];
  return body;
};
const mappingWith = (mapping: Record<string, unknown>) => withExport({ mapping });
const scheduleWith = (schedule: unknown) => withExport({ schedule });
const twentySix = Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`field_${i}`, `Attr${i}`]));
const connection = (extra: Record<string, unknown>, drop: string[] = []) => () => {
  const body: Record<string, unknown> = { displayName: 'Acct', usableBy: 'admins', dataPrivacyConsent: true, ...extra };
  for (const key of drop) delete body[key];
  return body;
};

const cases: Case[] = [
  // ------------------------------------------------------------ connections
  { name: 'connection without dataPrivacyConsent', method: 'POST', path: () => '/v1/connections', body: connection({}, ['dataPrivacyConsent']), status: 400, code: 'validation_failed', field: 'body.dataPrivacyConsent' },
  { name: 'connection with dataPrivacyConsent false', method: 'POST', path: () => '/v1/connections', body: connection({ dataPrivacyConsent: false }), status: 400, code: 'validation_failed', field: 'body.dataPrivacyConsent' },
  { name: 'connection with dataPrivacyConsent "true" (a string)', method: 'POST', path: () => '/v1/connections', body: connection({ dataPrivacyConsent: 'true' }), status: 400, code: 'validation_failed', field: 'body.dataPrivacyConsent' },
  { name: 'connection with a numeric displayName', method: 'POST', path: () => '/v1/connections', body: connection({ displayName: 42 }), status: 400, code: 'validation_failed', field: 'body.displayName' },
  { name: 'connection with a blank displayName', method: 'POST', path: () => '/v1/connections', body: connection({ displayName: '   ' }), status: 400, code: 'validation_failed', field: 'body.displayName' },
  { name: 'connection with an unknown usableBy', method: 'POST', path: () => '/v1/connections', body: connection({ usableBy: 'everyone' }), status: 400, code: 'validation_failed', field: 'body.usableBy' },
  { name: 'connection with an unknown field', method: 'POST', path: () => '/v1/connections', body: connection({ status: 'connected' }), status: 400, code: 'validation_failed' },
  { name: 'connection as a JSON array', method: 'POST', path: () => '/v1/connections', body: () => [connection({})()], status: 400, code: 'validation_failed' },
  { name: 'connection with invalid JSON', method: 'POST', path: () => '/v1/connections', raw: '{"displayName": "Acct", ', status: 400, code: 'invalid_json' },
  { name: 'connection as text/plain', method: 'POST', path: () => '/v1/connections', raw: 'displayName=Acct', contentType: 'text/plain', status: 415, code: 'unsupported_media_type' },
  { name: 'connection body over 1 MB', method: 'POST', path: () => '/v1/connections', raw: JSON.stringify({ displayName: big, usableBy: 'admins', dataPrivacyConsent: true }), status: 413, code: 'payload_too_large' },
  { name: 'connection patch with nothing to change', method: 'PATCH', path: (c) => `/v1/connections/${c.connectionId}`, body: () => ({}), status: 400, code: 'validation_failed' },
  { name: 'connection patch of its status', method: 'PATCH', path: (c) => `/v1/connections/${c.connectionId}`, body: () => ({ status: 'connected' }), status: 400, code: 'validation_failed' },
  { name: 'connection patch with usableBy null', method: 'PATCH', path: (c) => `/v1/connections/${c.connectionId}`, body: () => ({ usableBy: null }), status: 400, code: 'validation_failed', field: 'body.usableBy' },
  { name: 'connection patch of an unknown connection', method: 'PATCH', path: () => '/v1/connections/con_doesnotexist0000000', body: () => ({ displayName: 'x' }), status: 404, code: 'not_found' },
  { name: 'connection id that is not an id', method: 'GET', path: () => '/v1/connections/not-an-id', status: 400, code: 'validation_failed', field: 'params.id' },
  { name: 'connections with limit 0', method: 'GET', path: () => '/v1/connections?limit=0', status: 400, code: 'validation_failed', field: 'query.limit' },
  { name: 'connections with limit abc', method: 'GET', path: () => '/v1/connections?limit=abc', status: 400, code: 'validation_failed', field: 'query.limit' },
  { name: 'connections with a forged cursor', method: 'GET', path: () => '/v1/connections?cursor=%25%25garbage', status: 400, code: 'validation_failed' },
  { name: 'connection removal with detachExports=yes', method: 'DELETE', path: (c) => `/v1/connections/${c.connectionId}?detachExports=yes`, status: 400, code: 'validation_failed', field: 'query.detachExports' },
  { name: 'removal of a connection in use', method: 'DELETE', path: (c) => `/v1/connections/${c.connectionId}`, status: 409, code: 'connection_in_use' },
  { name: 'reauthorize with an unknown field', method: 'POST', path: (c) => `/v1/connections/${c.connectionId}/reauthorize`, body: () => ({ force: true }), status: 400, code: 'validation_failed' },
  { name: 'reauthorize of an unknown connection', method: 'POST', path: () => '/v1/connections/con_doesnotexist0000000/reauthorize', status: 404, code: 'not_found' },
  { name: 'authorize with a forged ticket', method: 'GET', path: (c) => `/v1/connections/${c.pendingId}/authorize?ticket=forged-ticket`, caller: 'none', status: 400, code: 'invalid_ticket' },
  { name: 'authorize without a ticket', method: 'GET', path: (c) => `/v1/connections/${c.pendingId}/authorize`, caller: 'none', status: 400, code: 'validation_failed', field: 'query.ticket' },
  { name: 'callback with a forged state', method: 'GET', path: () => '/v1/oauth/constant-contact/callback?code=abc&state=forged-state', caller: 'none', status: 400, code: 'invalid_state' },
  { name: 'callback with access_denied and no state', method: 'GET', path: () => '/v1/oauth/constant-contact/callback?error=access_denied', caller: 'none', status: 400, code: 'invalid_state' },
  { name: 'callback with two states', method: 'GET', path: () => '/v1/oauth/constant-contact/callback?code=a&state=b&state=c', caller: 'none', status: 400, code: 'validation_failed', field: 'query.state' },
  { name: 'lists of an unknown connection', method: 'GET', path: () => '/v1/connections/con_doesnotexist0000000/lists', status: 404, code: 'not_found' },
  { name: 'custom fields of a connection not authorized yet', method: 'GET', path: (c) => `/v1/connections/${c.pendingId}/custom-fields`, status: 422, code: 'connection_not_connected' },

  // ------------------------------------------------------------ exports
  { name: 'export without mapping.email', method: 'POST', path: () => '/v1/exports', body: mappingWith({ firstName: 'FirstName' }), status: 400, code: 'validation_failed', field: 'body.mapping.email' },
  { name: 'export with a numeric mapping.email', method: 'POST', path: () => '/v1/exports', body: mappingWith({ email: 5 }), status: 400, code: 'validation_failed', field: 'body.mapping.email' },
  { name: 'export without mapping', method: 'POST', path: () => '/v1/exports', body: withExport({}, ['mapping']), status: 400, code: 'validation_failed', field: 'body.mapping' },
  { name: 'export with an unknown mapping field', method: 'POST', path: () => '/v1/exports', body: mappingWith({ email: 'E', phone: 'Phone' }), status: 400, code: 'validation_failed', field: 'body.mapping' },
  { name: 'export with a list id that is not a UUID', method: 'POST', path: () => '/v1/exports', body: withExport({ listId: 'https://app.constantcontact.com/lists/123' }), status: 400, code: 'validation_failed', field: 'body.listId' },
  { name: 'export with a list that does not exist', method: 'POST', path: () => '/v1/exports', body: withExport({ listId: NOT_A_LIST }), status: 422, code: 'list_not_found' },
  { name: 'export with 26 custom fields', method: 'POST', path: () => '/v1/exports', body: mappingWith({ email: 'E', customFields: twentySix }), status: 400, code: 'validation_failed', field: 'body.mapping.customFields' },
  { name: 'export with an unknown custom field', method: 'POST', path: () => '/v1/exports', body: mappingWith({ email: 'E', customFields: { no_such_field: 'Tier' } }), status: 422, code: 'custom_field_not_found' },
  { name: 'export with a custom field mapped to a number', method: 'POST', path: () => '/v1/exports', body: mappingWith({ email: 'E', customFields: { tier: 3 } }), status: 400, code: 'validation_failed', field: 'body.mapping.customFields.tier' },
  { name: 'export with no segments', method: 'POST', path: () => '/v1/exports', body: withExport({ segmentIds: [] }), status: 400, code: 'validation_failed', field: 'body.segmentIds' },
  { name: 'export with an unknown segment', method: 'POST', path: () => '/v1/exports', body: (c) => withExport({ segmentIds: [c.segmentId, 'seg_doesnotexist000000'] })(c), status: 422, code: 'segment_not_found' },
  { name: 'export with a segment twice', method: 'POST', path: () => '/v1/exports', body: (c) => withExport({ segmentIds: [c.segmentId, c.segmentId] })(c), status: 400, code: 'validation_failed', field: 'body.segmentIds' },
  { name: 'export with segmentIds as a string', method: 'POST', path: () => '/v1/exports', body: (c) => withExport({ segmentIds: c.segmentId })(c), status: 400, code: 'validation_failed', field: 'body.segmentIds' },
  { name: 'export with a numeric segment id', method: 'POST', path: () => '/v1/exports', body: withExport({ segmentIds: [42] }), status: 400, code: 'validation_failed', field: 'body.segmentIds.0' },
  { name: 'export with syncMode replace', method: 'POST', path: () => '/v1/exports', body: withExport({ syncMode: 'replace' }), status: 400, code: 'validation_failed', field: 'body.syncMode' },
  { name: 'export with maxRemovalPercent 101', method: 'POST', path: () => '/v1/exports', body: withExport({ maxRemovalPercent: 101 }), status: 400, code: 'validation_failed', field: 'body.maxRemovalPercent' },
  { name: 'export with maxRemovalPercent "20"', method: 'POST', path: () => '/v1/exports', body: withExport({ maxRemovalPercent: '20' }), status: 400, code: 'validation_failed', field: 'body.maxRemovalPercent' },
  { name: 'export with a custom schedule without cron', method: 'POST', path: () => '/v1/exports', body: scheduleWith({ mode: 'custom', timezone: 'UTC' }), status: 400, code: 'validation_failed', field: 'body.schedule.cron' },
  { name: 'export with a 4-field cron', method: 'POST', path: () => '/v1/exports', body: scheduleWith({ mode: 'custom', cron: '0 6 * *', timezone: 'UTC' }), status: 400, code: 'validation_failed', field: 'body.schedule.cron' },
  { name: 'export with minute 61 in its cron', method: 'POST', path: () => '/v1/exports', body: scheduleWith({ mode: 'custom', cron: '61 6 * * *', timezone: 'UTC' }), status: 400, code: 'validation_failed', field: 'body.schedule.cron' },
  { name: 'export with an unknown time zone', method: 'POST', path: () => '/v1/exports', body: scheduleWith({ mode: 'custom', cron: '0 6 * * *', timezone: 'Mars/Olympus_Mons' }), status: 400, code: 'validation_failed', field: 'body.schedule.timezone' },
  { name: 'export with schedule mode weekly', method: 'POST', path: () => '/v1/exports', body: scheduleWith({ mode: 'weekly' }), status: 400, code: 'validation_failed', field: 'body.schedule.mode' },
  { name: 'export with a cron on schedule mode off', method: 'POST', path: () => '/v1/exports', body: scheduleWith({ mode: 'off', cron: '0 6 * * *' }), status: 400, code: 'validation_failed', field: 'body.schedule' },
  { name: 'export with an unknown field', method: 'POST', path: () => '/v1/exports', body: withExport({ runNow: true }), status: 400, code: 'validation_failed' },
  { name: 'export with an empty name', method: 'POST', path: () => '/v1/exports', body: withExport({ name: '' }), status: 400, code: 'validation_failed', field: 'body.name' },
  { name: 'export without a name', method: 'POST', path: () => '/v1/exports', body: withExport({}, ['name']), status: 400, code: 'validation_failed', field: 'body.name' },
  { name: 'export on an unknown connection', method: 'POST', path: () => '/v1/exports', body: withExport({ connectionId: 'con_doesnotexist0000000' }), status: 404, code: 'connection_not_found' },
  { name: 'export with a connection id that is not an id', method: 'POST', path: () => '/v1/exports', body: withExport({ connectionId: 'Newsletter account' }), status: 400, code: 'validation_failed', field: 'body.connectionId' },
  { name: 'export on a connection not authorized yet', method: 'POST', path: () => '/v1/exports', body: (c) => withExport({ connectionId: c.pendingId })(c), status: 422, code: 'connection_not_connected' },
  { name: "a contributor's export on an admins-only connection", method: 'POST', path: () => '/v1/exports', body: (c) => withExport({ connectionId: c.adminOnlyId })(c), caller: 'contributor', status: 404, code: 'connection_not_found' },
  { name: 'export with invalid JSON', method: 'POST', path: () => '/v1/exports', raw: '{"name": "Spring", "mapping": {"email": }}', status: 400, code: 'invalid_json' },
  { name: 'export body over 1 MB', method: 'POST', path: () => '/v1/exports', raw: JSON.stringify({ name: 'x', mapping: { email: big } }), status: 413, code: 'payload_too_large' },
  { name: 'export as CSV', method: 'POST', path: () => '/v1/exports', raw: 'name,listId\nx,y\n', contentType: 'text/csv', status: 415, code: 'unsupported_media_type' },
  { name: 'export patch with nothing to change', method: 'PATCH', path: (c) => `/v1/exports/${c.exportId}`, body: () => ({}), status: 400, code: 'validation_failed' },
  { name: 'export patch of a mapping without email', method: 'PATCH', path: (c) => `/v1/exports/${c.exportId}`, body: () => ({ mapping: { firstName: 'F' } }), status: 400, code: 'validation_failed', field: 'body.mapping.email' },
  { name: 'export patch to a list that does not exist', method: 'PATCH', path: (c) => `/v1/exports/${c.exportId}`, body: () => ({ listId: NOT_A_LIST }), status: 422, code: 'list_not_found' },
  { name: 'export patch to an unknown segment', method: 'PATCH', path: (c) => `/v1/exports/${c.exportId}`, body: () => ({ segmentIds: ['seg_doesnotexist000000'] }), status: 422, code: 'segment_not_found' },
  { name: 'export patch with an unknown field', method: 'PATCH', path: (c) => `/v1/exports/${c.exportId}`, body: () => ({ deletedAt: null }), status: 400, code: 'validation_failed' },
  { name: 'export patch of connectionId null', method: 'PATCH', path: (c) => `/v1/exports/${c.exportId}`, body: () => ({ connectionId: null }), status: 400, code: 'validation_failed', field: 'body.connectionId' },
  { name: 'export patch of an unknown export', method: 'PATCH', path: () => '/v1/exports/exp_doesnotexist0000000', body: () => ({ name: 'x' }), status: 404, code: 'not_found' },
  { name: 'export removal with an id that is not an id', method: 'DELETE', path: () => '/v1/exports/Spring%20newsletter', status: 400, code: 'validation_failed', field: 'params.id' },
  { name: 'export read of an unknown export', method: 'GET', path: () => '/v1/exports/exp_doesnotexist0000000', status: 404, code: 'not_found' },
  { name: 'exports with limit 501', method: 'GET', path: () => '/v1/exports?limit=501', status: 400, code: 'validation_failed', field: 'query.limit' },
  { name: 'exports of a connection id that is not an id', method: 'GET', path: () => '/v1/exports?connectionId=nope', status: 400, code: 'validation_failed', field: 'query.connectionId' },
];

describe.each(storeKinds)('bad input to connections and exports (%s)', (kind) => {
  let app: TestApp;
  let ctx: Ctx;

  beforeAll(async () => {
    app = await createTestApp({ kind });
    const connectionId = await connectSandboxConnection(app, { usableBy: 'admins-and-contributors' });
    const adminOnlyId = await connectSandboxConnection(app, { displayName: 'Admins only', usableBy: 'admins' });
    const pending = await app.as('admin').post('/v1/connections', { displayName: 'Pending', dataPrivacyConsent: true });
    const segmentId = await insertSegment(app);
    const exp = await app.as('admin').post('/v1/exports', exportBody(connectionId, [segmentId]));
    expect(exp.status).toBe(201);
    ctx = { connectionId, adminOnlyId, pendingId: pending.body.id, segmentId, exportId: exp.body.id };
  });
  afterAll(async () => {
    await app?.close();
  });

  it('has at least 30 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = await app.dumpTables({ exclude: ['rate_limits'] });
    const res = await app.as(c.caller ?? 'admin').request(c.method, c.path(ctx), {
      ...(c.raw !== undefined ? { raw: c.raw } : c.body ? { body: c.body(ctx) } : {}),
      ...(c.contentType ? { contentType: c.contentType } : {}),
    });
    expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: c.status, code: c.code });
    expect(res.body.error.requestId).toBe(res.headers.get('x-request-id'));
    expect(res.body.error.message.length).toBeGreaterThan(0);
    if (c.field) {
      const paths = (res.body.error.details ?? []).map((d: { path: string[] }) => d.path.join('.'));
      expect(paths).toContain(c.field);
    }
    expect(await app.dumpTables({ exclude: ['rate_limits'] })).toEqual(before);
  });
});
