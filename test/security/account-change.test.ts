import { DEFAULT_ACCOUNT_ID } from '../../sandbox/server';
import { connectSandboxConnection, createTestApp, followAuthorization, type TestApp } from '../helpers/app';
import { storeKinds } from '../helpers/stores';

/**
 * A connection stays with the Constant Contact account it was first authorized for (its
 * encoded_account_id, read with GET /v3/account/summary): a re-authorization that lands on
 * another account is refused and stores nothing, unless an admin allowed the change for that link.
 */
describe.each(storeKinds)('re-authorization onto another account (%s)', (kind) => {
  let app: TestApp;
  let connectionId: string;
  beforeAll(async () => {
    app = await createTestApp({ kind });
    connectionId = await connectSandboxConnection(app);
  });
  afterAll(() => app?.close());

  const connectionRow = () => app.store.db.get('SELECT tokens, token_generation, status, account_id, updated_at FROM connections WHERE id = ?', [connectionId]);
  const reauthorize = async (body?: unknown) => {
    const res = await app.as('admin').post(`/v1/connections/${connectionId}/reauthorize`, body);
    expect(res.status).toBe(200);
    return followAuthorization(app, res.body.authorizeUrl);
  };

  it('stores the account id of the first authorization', async () => {
    const res = await app.as('admin').get(`/v1/connections/${connectionId}`);
    expect(res.body).toMatchObject({ status: 'connected', accountId: DEFAULT_ACCOUNT_ID });
    expect((await app.as('contributor').get('/v1/connections')).text).not.toContain(DEFAULT_ACCOUNT_ID);
  });

  it('refuses a re-authorization on another account with 409 account_changed and stores nothing', async () => {
    await app.sandboxControl('PUT', '/account', { encodedAccountId: 'a07eother0002' });
    const before = await connectionRow();
    const { callbackResponse } = await reauthorize();
    expect(callbackResponse.status).toBe(409);
    expect(callbackResponse.text).toMatch(/another Constant Contact account/);
    expect(await connectionRow()).toEqual(before);
    const lists = await app.as('admin').get(`/v1/connections/${connectionId}/lists`);
    expect(lists.status).toBe(200);
  });

  it('moves the connection when an admin allowed it for that link, and records it in the audit log', async () => {
    const { callbackResponse } = await reauthorize({ allowAccountChange: true });
    expect(callbackResponse.status).toBe(200);
    expect((await app.as('admin').get(`/v1/connections/${connectionId}`)).body).toMatchObject({ status: 'connected', accountId: 'a07eother0002' });
    const audit = await app.as('admin').get('/v1/audit?limit=10');
    expect(audit.body.items[0]).toMatchObject({ action: 'connection.authorize', resourceId: connectionId, summary: { accountChanged: true }, actor: { role: 'admin' } });
    expect(audit.body.items[1]).toMatchObject({ action: 'connection.reauthorize', summary: { allowAccountChange: true } });
  });

  it('re-authorizes on the same account without any flag', async () => {
    const { callbackResponse } = await reauthorize();
    expect(callbackResponse.status).toBe(200);
    expect((await app.as('admin').get(`/v1/connections/${connectionId}`)).body.accountId).toBe('a07eother0002');
  });
});
