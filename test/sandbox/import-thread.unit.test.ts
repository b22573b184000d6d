import { api, control, DEFAULT_LIST, importContacts, useAuthorizedSandbox, waitForActivity } from './helpers';

// Import bodies are parsed on the sandbox's import thread and applied a batch of contacts at a time,
// with the event loop free in between; the import tests (import.unit.test.ts) hold the answers and
// errors to what they were.

describe('sandbox JSON import: parsed off the main thread, applied in batches', () => {
  const sb = useAuthorizedSandbox();
  beforeEach(() => control(sb.addr, 'POST', '/reset'));

  it('applies a 40,000-contact import whole: requests that arrive while it is being applied wait for it and see all of it', async () => {
    const items = Array.from({ length: 40_000 }, (_, i) => ({ email: `whole${i}@example.com`, first_name: 'Whole' }));
    const posted = await importContacts(sb.addr, sb.token, items);
    expect(posted.status).toBe(201);

    // The activity is due at once (importMsPerContact 0): the first of these requests starts applying
    // it, the others are read between its batches.
    const readers = await Promise.all(
      Array.from({ length: 6 }, () => api(sb.addr, sb.token, 'GET', `/contact_lists/${DEFAULT_LIST}?include_membership_count=all`)),
    );
    for (const res of readers) expect([res.status, res.body.membership_count]).toEqual([200, 40_000]);

    const done = await waitForActivity(sb.addr, sb.token, posted.body.activity_id);
    expect(done.status).toMatchObject({ items_total_count: 40_000, items_completed_count: 40_000, person_count: 40_000 });
  });

  it('starts the import thread again when it has stopped', async () => {
    expect((await importContacts(sb.addr, sb.token, [{ email: 'before@example.com' }])).status).toBe(201);
    await sb.sandbox.context.importThread.close();
    const again = await importContacts(sb.addr, sb.token, [{ email: 'after@example.com' }, { email: 'not-an-email' }]);
    expect(again.status).toBe(201);
    const done = await waitForActivity(sb.addr, sb.token, again.body.activity_id);
    expect(done.status).toMatchObject({ items_total_count: 2, person_count: 1, correctable_count: 1 });
    expect((await control(sb.addr, 'GET', '/contacts?email=after@example.com')).body.listIds).toEqual([DEFAULT_LIST]);
  });
});
