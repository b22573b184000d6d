import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { RUN_TIMEOUT_MS, SANDBOX_LIST_ID, checkPlan, runNow, runSteps, startFullResync, startRun, untilFinished } from './run-steps';
import { fitsWidth, openScreen, pageErrors, screenshot, signIn, startStackAndBrowser, type Stack } from './stack';

/**
 * The console in a real browser (Debian's chromium through playwright-core) against `npm start`'s
 * stack with the Constant Contact sandbox. The admin's walk-through runs first; the contributor's
 * test then looks at what it left behind (an admins-only connection and its export).
 *
 * Each step is a function of its own, so that a later feature is one more step in the walk-through.
 */

const repoRoot = path.resolve(__dirname, '../..');
const SAMPLES = path.join(repoRoot, 'samples', 'profiles.ndjson');
const SANDBOX_LIST = 'Sandbox list';
const MISSING_LIST_ID = '00000000-0000-4000-8000-00000000dead';
const TIME_ZONE = 'Europe/Riga';

const samples = fs.readFileSync(SAMPLES, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const latvians = samples.filter((p) => p.Country === 'LV').length;
const goldLatvians = samples.filter((p) => p.Country === 'LV' && p.LoyaltyTier === 'gold').length;

let stack: Stack;
let browser: Browser;
let steps: ReturnType<typeof runSteps>;
const state: { runId?: string; exportId?: string } = {};

beforeAll(async () => {
  ({ stack, browser } = await startStackAndBrowser());
  steps = runSteps(stack);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: TIME_ZONE, acceptDownloads: true });
  return { page, errors: pageErrors(page) };
}

/** The error text shown next to a field (the elements its aria-describedby names as errors), once it shows. */
async function errorNextTo(field: Locator): Promise<string> {
  await field.and(field.page().locator('[aria-invalid="true"]')).waitFor();
  const ids = ((await field.getAttribute('aria-describedby')) ?? '').split(' ').filter((id) => id.endsWith('-error'));
  const texts = await Promise.all(ids.map((id) => field.page().locator(`[id="${id}"]`).textContent()));
  return texts.join(' ');
}

const listOf = async (p: string) => (await stack.api('admin', 'GET', p)).body.items as { id: string }[];

// ---------------------------------------------------------------- the admin's steps

async function addConnection(page: Page): Promise<string> {
  await openScreen(page, 'Connections');
  await page.getByRole('button', { name: 'Add connection' }).click();
  await page.getByLabel('Display name').fill('Marketing');
  await page.getByRole('button', { name: 'Connect' }).click();
  // Without the consent ticked, the API's 400 shows next to the checkbox and nothing is saved.
  const consent = page.getByRole('checkbox', { name: /I agree to data privacy and compliance/ });
  expect(await errorNextTo(consent)).toMatch(/dataPrivacyConsent must be true/);
  expect(await listOf('/v1/connections')).toEqual([]);

  await consent.check();
  await page.getByRole('button', { name: 'Connect' }).click();
  // Constant Contact's consent screen (the sandbox approves at once), the callback, and back here.
  await page.waitForURL(/#\/connections\?authorized=con_/);
  await page.getByText('“Marketing” is connected to Constant Contact.').waitFor();
  const row = page.getByRole('row', { name: /Marketing/ });
  await row.getByText('connected', { exact: true }).waitFor();
  const [connection] = (await listOf('/v1/connections')) as { id: string; status: string; createdAt: string }[];
  expect(connection.status).toBe('connected');
  // Dates in the browser's time zone.
  const created = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'medium', timeZone: TIME_ZONE }).format(new Date(connection.createdAt));
  expect((await row.locator('time').textContent())?.replace(/\s/g, ' ')).toBe(created.replace(/\s/g, ' '));
  await page.getByText(`Times are shown in your time zone, ${TIME_ZONE}.`).waitFor();
  await screenshot(page, 'connections');
  return connection.id;
}

async function importProfiles(page: Page): Promise<void> {
  await openScreen(page, 'Profiles');
  await page.getByLabel('Profiles file (NDJSON or CSV)').setInputFiles(SAMPLES);
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByText(`Imported: ${samples.length.toLocaleString('en-US')} records read, ${samples.length.toLocaleString('en-US')} saved, 0 rejected.`).waitFor();
  expect(await page.locator('#import-progress').getAttribute('value')).toBe('100');
  await page.getByRole('row', { name: /LoyaltyTier/ }).waitFor();
}

async function createSegment(page: Page): Promise<void> {
  await openScreen(page, 'Segments');
  await page.getByRole('link', { name: 'New segment' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Latvia');
  await page.getByRole('button', { name: 'Add a condition' }).click();
  // The API's rule errors land next to the condition's field they name.
  await page.getByRole('button', { name: 'Save segment' }).click();
  expect(await errorNextTo(page.getByLabel('Attribute'))).toMatch(/attribute must not be empty/);
  expect(await listOf('/v1/segments')).toEqual([]);

  await page.getByLabel('Attribute').fill('Country');
  await page.getByLabel('Value', { exact: true }).fill('LV');
  await page.getByRole('button', { name: 'Save segment' }).click();
  await page.getByText('Saved. Refresh it').waitFor();
  await page.getByRole('button', { name: 'Refresh now' }).click();
  await page.getByText(`Members at the last refresh: ${latvians}`).waitFor();
}

async function setRefreshSchedule(page: Page): Promise<void> {
  await openScreen(page, 'Settings');
  await page.getByText('The refresh schedule is not set yet').waitFor();
  await page.getByLabel('Time 1').fill('06:00');
  await page.getByRole('button', { name: 'Add a time' }).click();
  await page.getByLabel('Time 2').fill('18:30');
  expect(await page.getByLabel('Time zone').inputValue()).toBe(TIME_ZONE);
  await page.getByRole('button', { name: 'Save schedule' }).click();
  await page.getByRole('list', { name: 'Next refreshes' }).getByRole('listitem').nth(4).waitFor();
  const saved = (await stack.api('admin', 'GET', '/v1/refresh-schedule')).body;
  expect(saved).toMatchObject({ times: ['06:00', '18:30'], timezone: TIME_ZONE, days: 'daily', enabled: true });
}

async function addExport(page: Page): Promise<string> {
  await openScreen(page, 'Exports');
  await page.getByRole('link', { name: 'Add export' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Latvia newsletter');
  await page.getByLabel('Connection').selectOption({ label: 'Marketing' });
  const list = page.getByLabel('List', { exact: true });
  await list.selectOption({ label: `${SANDBOX_LIST} (0 members)` });
  await page.getByLabel('First name (optional)').fill('FirstName');
  await page.getByLabel('Last name (optional)').fill('LastName');
  await page.getByRole('button', { name: 'Add a custom field' }).click();
  await page.getByLabel('Constant Contact custom field').selectOption({ label: 'Tier (string)' });
  await page.getByLabel('Profile attribute').fill('LoyaltyTier');
  await page.getByRole('checkbox', { name: /^Latvia/ }).check();
  // Runs with every refresh: the refresh schedule's next times show.
  await page.getByRole('list', { name: 'Next runs' }).getByRole('listitem').nth(4).waitFor();

  // An empty email mapping: the error shows next to the email field, nothing is saved.
  await page.getByRole('button', { name: 'Save export' }).click();
  expect(await errorNextTo(page.getByLabel('Email (required)'))).toMatch(/email is required/);
  expect(await listOf('/v1/exports')).toEqual([]);

  // A list id the account does not have: the error shows next to the list id, nothing is saved.
  await page.getByLabel('Email (required)').fill('Email');
  await list.selectOption({ label: 'Another list: type its id…' });
  await page.getByLabel('List id').fill(MISSING_LIST_ID);
  await page.getByRole('button', { name: 'Save export' }).click();
  expect(await errorNextTo(page.getByLabel('List id'))).toMatch(/no such list/);
  expect(await listOf('/v1/exports')).toEqual([]);

  await list.selectOption({ label: `${SANDBOX_LIST} (0 members)` });
  await page.getByRole('button', { name: 'Save export' }).click();
  await page.waitForURL(/#\/exports\/exp_\w+\?saved/);
  await page.getByText('Saved. Saving never runs an export').waitFor();
  const exportId = /#\/exports\/(exp_\w+)/.exec(page.url())![1];
  const saved = (await stack.api('admin', 'GET', `/v1/exports/${exportId}`)).body;
  expect(saved).toMatchObject({
    listId: SANDBOX_LIST_ID,
    mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName', customFields: { Tier: 'LoyaltyTier' } },
    syncMode: 'upsert',
    schedule: { mode: 'with-refresh' },
    lastRun: null,
  });
  await page.getByLabel('List', { exact: true }).and(page.locator(':enabled')).waitFor();
  await screenshot(page, 'export');
  return exportId;
}

async function narrowSegment(page: Page): Promise<void> {
  await openScreen(page, 'Segments');
  await page.getByRole('link', { name: 'Latvia' }).click();
  await page.getByRole('button', { name: 'Add a condition' }).click();
  await page.getByLabel('Attribute').nth(1).fill('LoyaltyTier');
  await page.getByLabel('Value', { exact: true }).nth(1).fill('gold');
  await page.getByRole('button', { name: 'Save changes' }).click();
  // A changed rule has no members until the next refresh.
  await page.getByText('Members at the last refresh: not refreshed yet').waitFor();
  await page.getByRole('button', { name: 'Refresh now' }).click();
  await page.getByText(`Members at the last refresh: ${goldLatvians}`).waitFor();
}

async function switchToMirror(page: Page, exportId: string): Promise<void> {
  await openScreen(page, 'Exports');
  await page.getByRole('link', { name: 'Latvia newsletter' }).click();
  await page.getByRole('radio', { name: /^Mirror/ }).check();
  expect(await page.getByLabel('Removal guard (% of the list)').inputValue()).toBe('20');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByText('Saved. Saving never runs an export').waitFor();
  expect((await stack.api('admin', 'GET', `/v1/exports/${exportId}`)).body.syncMode).toBe('mirror');
}

// ---------------------------------------------------------------- the contributor's steps

/** An admin authorizes the shared connection (as their browser would) and adds an export on it. */
async function addSharedExport(connection: { id: string; authorizeUrl: string }): Promise<void> {
  const authorized = await fetch(connection.authorizeUrl, { headers: { accept: 'text/html' } });
  expect(authorized.status).toBe(200);
  expect((await stack.api('admin', 'GET', `/v1/connections/${connection.id}`)).body.status).toBe('connected');
  const segments = (await listOf('/v1/segments')) as { id: string; name: string }[];
  const segmentIds = segments.filter((s) => s.name === 'Latvia').map((s) => s.id);
  const created = await stack.api('admin', 'POST', '/v1/exports', { name: 'Shared newsletter', connectionId: connection.id, listId: SANDBOX_LIST_ID, mapping: { email: 'Email' }, segmentIds, schedule: { mode: 'off' } });
  expect(created.status).toBe(201);
}

/** The contributor runs the export dry, then in full: the plan, then the counts, but no suppressions. */
async function sharedExportRuns(page: Page, connection: { id: string; authorizeUrl: string }): Promise<void> {
  await addSharedExport(connection);
  await openScreen(page, 'Exports');
  await page.getByRole('link', { name: 'Shared newsletter' }).click();
  for (const name of ['Run now', 'Dry run', 'Full resync']) expect([name, await page.getByRole('button', { name }).isEnabled()]).toEqual([name, true]);
  const dryRunId = await startRun(page, (p) => p.getByRole('button', { name: 'Dry run' }).click(), untilFinished('succeeded'));
  await checkPlan(page, await steps.checkRun(page, dryRunId, 'contributor'));

  await page.locator('.subtitle').getByRole('link', { name: 'Shared newsletter' }).click();
  const runId = await startRun(page, startFullResync, untilFinished('succeeded'));
  expect((await steps.checkRun(page, runId, 'contributor')).fullResync).toBe(true);
  await page.getByRole('heading', { name: 'Counts' }).waitFor();
  await page.getByRole('button', { name: 'Download rejects' }).waitFor();
  expect(await page.getByRole('tab').count()).toBe(0);
  expect(await page.getByText(/^Suppressed \(\d+\)$/).count()).toBe(0);
  expect(await page.getByRole('button', { name: 'Download suppressions' }).count()).toBe(0);
  expect((await stack.api('contributor', 'GET', `/v1/runs/${runId}/suppressions`)).status).toBe(403);
}

// ---------------------------------------------------------------- the tests

describe('the console in a browser, against npm start with the sandbox', () => {
  it('walks an admin through connecting, importing, a segment, an export, its dry run and run to succeeded, the rejects, a full resync and its suppression, and approving a mirror run', async () => {
    const { page, errors } = await newPage();
    await signIn(page, stack.baseUrl, stack.keys.admin);
    await addConnection(page);
    await importProfiles(page);
    await createSegment(page);
    await setRefreshSchedule(page);
    expect((await fetch(`${stack.sandboxUrl}/__sandbox/custom-fields`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"label":"Tier"}' })).status).toBe(201);
    const exportId = await addExport(page);
    state.exportId = exportId;

    // A dry run first: it plans to add every valid profile; the real run then does what it planned.
    const dry = await steps.dryRun(page);
    await screenshot(page, 'dry-run', { fullPage: true });
    expect(dry.plan).toMatchObject({ toUpdate: 0, unchanged: 0, suppressed: 0, toRemove: 0, needsApproval: false });
    expect(dry.plan!.toAdd).toBeGreaterThan(0);
    expect(dry.plan!.toAdd + dry.plan!.rejected + dry.plan!.duplicates).toBe(latvians);
    await page.locator('.subtitle').getByRole('link', { name: 'Latvia newsletter' }).click();
    await page.getByRole('row').filter({ hasText: 'dry run' }).waitFor();

    const runId = await runNow(page, untilFinished('succeeded'));
    state.runId = runId;
    const run = await steps.checkRun(page, runId);
    expect(run.counts).toMatchObject({ segmentProfiles: latvians, added: dry.plan!.toAdd, updated: 0, unchanged: 0, rejected: dry.plan!.rejected });
    await screenshot(page, 'run');
    await steps.downloadRejects(page, runId);
    await page.getByRole('tab', { name: 'Suppressed (0)' }).click();
    await page.getByRole('tabpanel').getByText('This run suppressed no one.').waitFor();
    const onList = await steps.listMembers();
    expect(onList).toBe(run.counts.imported);

    await steps.fullResyncAfterLeaving(page, exportId, run);
    expect(await steps.listMembers()).toBe(onList - 1);

    // Mirror mode: fewer profiles than the list holds, more than the guard's 20% to remove.
    await narrowSegment(page);
    await switchToMirror(page, exportId);
    const mirrorRunId = await runNow(page, async (p) => {
      const approval = p.getByRole('region', { name: 'Removals awaiting approval' });
      await approval.waitFor({ timeout: RUN_TIMEOUT_MS });
      await approval.getByRole('button', { name: 'Approve removals' }).click();
      await untilFinished('succeeded')(p);
    });
    const mirrorRun = await steps.checkRun(page, mirrorRunId);
    expect(mirrorRun.counts.removed).toBeGreaterThan(0);
    expect(mirrorRun.counts.removed).toBe(mirrorRun.counts.plannedRemovals);
    expect(await steps.listMembers()).toBe(onList - 1 - mirrorRun.counts.removed);

    // The same screens at phone width need no sideways scrolling.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await fitsWidth(page)).toBe(true);
    await openScreen(page, 'Exports');
    expect(await fitsWidth(page)).toBe(true);
    await page.getByRole('link', { name: 'Latvia newsletter' }).click();
    await page.getByRole('button', { name: 'Save changes' }).waitFor();
    expect(await fitsWidth(page)).toBe(true);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(errors).toEqual([]);
    await page.close();
  }, 600_000);

  it('shows a contributor no admin-only control and no connection that is not shared with them, and lets them run a shared export dry and in full', async () => {
    expect(state.runId).toBeDefined();
    const shared = await stack.api('admin', 'POST', '/v1/connections', { displayName: 'Shared with contributors', usableBy: 'admins-and-contributors', dataPrivacyConsent: true });
    expect(shared.status).toBe(201);
    const { page, errors } = await newPage();
    await signIn(page, stack.baseUrl, stack.keys.contributor);
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Profiles' }).count()).toBe(0);

    await openScreen(page, 'Connections');
    await page.getByRole('row', { name: /Shared with contributors/ }).waitFor();
    expect(await page.getByText('Marketing').count()).toBe(0);
    for (const name of ['Add connection', 'Authorize', 'Re-authorize', 'Remove']) expect([name, await page.getByRole('button', { name }).count()]).toEqual([name, 0]);

    await openScreen(page, 'Exports');
    await page.getByText('No exports yet.').waitFor();
    await page.getByRole('link', { name: 'Add export' }).click();
    const connection = page.getByLabel('Connection');
    await connection.waitFor();
    expect(await connection.locator('option').allTextContents()).toEqual(['— choose a connection —', 'Shared with contributors']);
    expect(await page.getByRole('group', { name: 'Sync mode' }).count()).toBe(0);

    await openScreen(page, 'Segments');
    await page.getByRole('row', { name: /Latvia/ }).waitFor();
    expect(await page.getByRole('link', { name: 'Latvia' }).count()).toBe(0);
    for (const name of ['New segment']) expect(await page.getByRole('link', { name }).count()).toBe(0);
    for (const name of [/^Refresh/, /^Delete/]) expect(await page.getByRole('button', { name }).count()).toBe(0);

    await openScreen(page, 'Settings');
    await page.getByRole('heading', { name: 'Refresh schedule' }).waitFor();
    for (const name of ['Save schedule', 'Refresh now', 'Add a time']) expect([name, await page.getByRole('button', { name }).count()]).toEqual([name, 0]);
    expect(await page.getByLabel('Time zone').isDisabled()).toBe(true);

    // The admin's run of an export on the unshared connection is not there for them.
    await page.goto(`${stack.baseUrl}/console/#/runs/${state.runId}`);
    await page.getByRole('alert').getByText('run not found').waitFor();
    expect(await page.getByRole('button', { name: 'Download rejects' }).count()).toBe(0);

    await sharedExportRuns(page, shared.body);
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);

  it('follows a slow run live, cancels it, lists every run newest first, and removes a connection by detaching its exports', async () => {
    const admin = (method: string, p: string, body?: unknown) => stack.api('admin', method, p, body);
    const segment = (await admin('POST', '/v1/segments', { name: 'Estonia', rule: { attribute: 'Country', op: 'eq', value: 'EE' } })).body;
    await admin('POST', `/v1/segments/${segment.id}/refresh`);
    const connectionId = ((await listOf('/v1/connections')) as { id: string; displayName: string }[]).find((c) => c.displayName === 'Marketing')!.id;
    const exp = (await admin('POST', '/v1/exports', { name: 'Estonia newsletter', connectionId, listId: SANDBOX_LIST_ID, mapping: { email: 'Email' }, segmentIds: [segment.id], schedule: { mode: 'off' } })).body;
    const slow = await fetch(`${stack.sandboxUrl}/__sandbox/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"importMsPerContact":100}' });
    expect(slow.status).toBe(200);
    const { page, errors } = await newPage();
    try {
      await signIn(page, stack.baseUrl, stack.keys.admin);
      await openScreen(page, 'Exports');
      await page.getByRole('link', { name: 'Estonia newsletter' }).click();
      // Signed in again elsewhere in this browser (another tab): the page's CSRF token is stale, and
      // its next request picks up the new session's token by itself.
      const again = await page.context().request.post(`${stack.baseUrl}/console/session`, { data: { apiKey: stack.keys.admin } });
      expect(again.status()).toBe(201);
      const runId = await runNow(page, async (p) => {
        // The run screen shows it running, then in the import, by itself.
        await p.locator('#run-phase').getByText('waiting-for-import').waitFor({ timeout: RUN_TIMEOUT_MS });
        expect(await p.locator('#run-status').textContent()).toBe('running');
        await p.getByRole('button', { name: 'Cancel run' }).click();
        await p.getByRole('group', { name: 'Confirm' }).getByRole('button', { name: 'Cancel run' }).click();
        await untilFinished('cancelled')(p);
      });
      expect((await admin('GET', `/v1/runs/${runId}`)).body.status).toBe('cancelled');

      await openScreen(page, 'Runs');
      // Every run of the three exports, newest first, dry runs and full resyncs marked as such.
      const rows = page.getByRole('table').locator('tbody tr');
      await rows.nth(6).waitFor();
      expect(await rows.first().locator('.badge').textContent()).toBe('cancelled');
      const texts = async (cells: Locator) => (await cells.allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
      expect(await texts(rows.locator('td:nth-child(2)'))).toEqual(['Estonia', 'Shared', 'Shared', 'Latvia', 'Latvia', 'Latvia', 'Latvia'].map((c) => `${c} newsletter`));
      expect(await texts(rows.locator('td:nth-child(3)'))).toEqual(['', 'full resync', 'dry run', '', 'full resync', '', 'dry run'].map((kind) => `on-demand ${kind}`.trim()));

      // Two exports use the connection: removing it offers to detach them.
      await openScreen(page, 'Connections');
      const row = page.getByRole('row', { name: /Marketing/ });
      await row.getByRole('button', { name: 'Remove' }).click();
      await row.getByRole('button', { name: 'Remove connection' }).click();
      await row.getByText(/Exports use this connection: .*exp_/).waitFor();
      expect((await listOf('/v1/connections')).map((c) => c.id)).toContain(connectionId);
      await row.getByRole('button', { name: 'Remove and detach exports' }).click();
      await row.waitFor({ state: 'detached' });
      expect((await listOf('/v1/connections')).map((c) => c.id)).not.toContain(connectionId);
      expect((await admin('GET', `/v1/exports/${exp.id}`)).body.connectionId).toBeNull();

      await openScreen(page, 'Exports');
      await page.getByRole('link', { name: 'Estonia newsletter' }).click();
      await page.getByText('This export has no connection').waitFor();
      expect(await page.getByRole('button', { name: 'Run now' }).isDisabled()).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await fetch(`${stack.sandboxUrl}/__sandbox/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
      await page.close();
    }
  }, 300_000);
});
