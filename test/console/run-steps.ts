import fs from 'node:fs';
import type { Page } from 'playwright-core';
import type { RunPlan } from '../../store/types';
import { screenshot, type Stack } from './stack';

/**
 * The browser test's steps on runs: starting one from an export's screen (run now, dry run, full
 * resync) and following it live, then checking what the run screen shows against the API and the
 * sandbox: counts, a dry run's plan, rejects and suppressions.
 */

export const SANDBOX_LIST_ID = '00000000-0000-4000-8000-000000000001';
export const RUN_TIMEOUT_MS = 150_000;

/** Run now on the export's screen; the run screen follows it live, without reloading, until it ends. */
export const runNow = (page: Page, until: (page: Page) => Promise<void>) => startRun(page, (p) => p.getByRole('button', { name: 'Run now' }).click(), until);

/** Starts a run on the export's screen with `start`, then follows it on the run screen without reloading. */
export async function startRun(page: Page, start: (page: Page) => Promise<void>, until: (page: Page) => Promise<void>): Promise<string> {
  await start(page);
  await page.waitForURL(/#\/runs\/run_/);
  const runId = /#\/runs\/(run_\w+)/.exec(page.url())![1];
  let reloads = 0;
  const onLoad = () => reloads++;
  page.on('load', onLoad);
  await until(page);
  page.off('load', onLoad);
  expect(reloads).toBe(0);
  return runId;
}

/** Full resync on the export's screen, through its confirmation (which says who is still not sent). */
export async function startFullResync(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Full resync' }).click();
  const confirm = page.getByRole('group', { name: 'Confirm' });
  await confirm.getByText(/Contacts who left the list in Constant Contact are still not sent/).waitFor();
  await confirm.getByRole('button', { name: 'Start full resync' }).click();
}

export const untilFinished = (status: string) => async (page: Page) => {
  await page.locator('#run-status').getByText(status, { exact: true }).waitFor({ timeout: RUN_TIMEOUT_MS });
};

export interface RunBody {
  dryRun: boolean;
  fullResync: boolean;
  counts: Record<string, number> & { suppressedByReason: { left_list: number } };
  plan: RunPlan | null;
}

const shown = (value: unknown) => (typeof value === 'boolean' ? (value ? 'yes' : 'no') : value === null ? 'not tracked' : (value as number).toLocaleString('en-US'));
const COUNT_KEYS = ['segmentProfiles', 'sent', 'added', 'updated', 'imported', 'unchanged', 'suppressed', 'rejected', 'duplicates', 'removed'];
const PLAN_KEYS = ['toAdd', 'toUpdate', 'unchanged', 'suppressed', 'rejected', 'duplicates', 'toRemove', 'needsApproval', 'dailyQuotaLeft'];

/** The dry run's plan as the API answers it, in the run screen's plan table. */
export async function checkPlan(page: Page, run: RunBody): Promise<void> {
  const plan = page.getByRole('region', { name: 'Dry run plan' });
  await plan.getByText('This dry run sent nothing and changed nothing.').waitFor();
  for (const key of PLAN_KEYS) {
    expect([key, await plan.locator(`[data-plan="${key}"]`).textContent()]).toEqual([key, shown(run.plan![key as keyof RunPlan])]);
  }
  for (const key of ['imports', 'statusReads', 'removals', 'total']) {
    expect([key, await plan.locator(`[data-plan="requests.${key}"]`).textContent()]).toEqual([key, shown(run.plan!.requests[key as keyof RunPlan['requests']])]);
  }
  expect(await plan.locator('[data-plan="suppressedByReason.left_list"]').textContent()).toBe(shown(run.plan!.suppressedByReason.left_list));
}

/** The steps that read the API or the sandbox of `stack`. */
export function runSteps(stack: Stack) {
  async function listMemberEmails(): Promise<string[]> {
    const res = await fetch(`${stack.sandboxUrl}/__sandbox/lists/${SANDBOX_LIST_ID}/members`);
    return (await res.text()).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).email as string);
  }

  const listMembers = async () => (await listMemberEmails()).length;

  /** The sandbox's request counters (its control API). */
  async function sandboxStats(): Promise<{ importRequests: number; removeRequests: number }> {
    return (await fetch(`${stack.sandboxUrl}/__sandbox/stats`)).json() as Promise<{ importRequests: number; removeRequests: number }>;
  }


  /** The run succeeded, and the run screen shows the API's counts (a dry run shows none: it has a plan). */
  async function checkRun(page: Page, runId: string, role: 'admin' | 'contributor' = 'admin'): Promise<RunBody> {
    const run = (await stack.api(role, 'GET', `/v1/runs/${runId}`)).body;
    expect(run).toMatchObject({ status: 'succeeded', progress: { phase: 'done', percent: 100 } });
    expect(await page.locator('#run-progress').getAttribute('value')).toBe('100');
    if (run.dryRun) {
      expect(await page.locator('[data-count]').count()).toBe(0);
      return run;
    }
    for (const key of COUNT_KEYS) {
      expect([key, await page.locator(`[data-count="${key}"]`).textContent()]).toEqual([key, shown(run.counts[key])]);
    }
    expect(await page.locator('[data-count="suppressedByReason.left_list"]').textContent()).toBe(shown(run.counts.suppressedByReason.left_list));
    return run;
  }

  async function downloadRejects(page: Page, runId: string): Promise<void> {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download rejects' }).click()]);
    expect(download.suggestedFilename()).toBe(`${runId}-rejects.ndjson`);
    const text = fs.readFileSync((await download.path())!, 'utf8');
    expect(text).toBe((await stack.api('admin', 'GET', `/v1/runs/${runId}/rejects`)).body);
    expect(text.trim().split('\n').map((l) => JSON.parse(l).reason)).toContain('email_too_long');
  }

  /** A dry run from the export's screen: it shows its plan, and Constant Contact received no import and no removal. */
  async function dryRun(page: Page): Promise<RunBody> {
    const before = await sandboxStats();
    const runId = await startRun(page, (p) => p.getByRole('button', { name: 'Dry run' }).click(), untilFinished('succeeded'));
    await page.locator('.subtitle').getByText('dry run', { exact: true }).waitFor();
    const run = await checkRun(page, runId);
    expect(run.dryRun).toBe(true);
    await checkPlan(page, run);
    const after = await sandboxStats();
    expect([after.importRequests, after.removeRequests]).toEqual([before.importRequests, before.removeRequests]);
    return run;
  }

  /** A contact leaves the list in Constant Contact; a full resync (confirmed) sends everyone else again and suppresses them. */
  async function fullResyncAfterLeaving(page: Page, exportId: string, previous: RunBody): Promise<string> {
    const [leaver] = await listMemberEmails();
    const left = await fetch(`${stack.sandboxUrl}/__sandbox/lists/${SANDBOX_LIST_ID}/members/leave`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ emails: [leaver] }) });
    expect(left.status).toBe(200);
    await page.goto(`${stack.baseUrl}/console/#/exports/${exportId}`);
    const imports = (await sandboxStats()).importRequests;
    const runId = await startRun(page, startFullResync, untilFinished('succeeded'));
    await page.locator('.subtitle').getByText('full resync', { exact: true }).waitFor();
    const run = await checkRun(page, runId);
    expect(run.fullResync).toBe(true);
    expect(run.counts).toMatchObject({ sent: previous.counts.sent - 1, suppressed: 1, suppressedByReason: { left_list: 1 } });
    expect((await sandboxStats()).importRequests).toBeGreaterThan(imports);
    await readSuppressions(page, runId, leaver);
    return runId;
  }

  /** The Suppressed tab lists the one who left, with its reason explained, and downloads what the API answers. */
  async function readSuppressions(page: Page, runId: string, email: string): Promise<void> {
    // The tabs follow the keyboard: the arrow keys move between them.
    await page.getByRole('tab', { name: 'Counts' }).focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.getByRole('tab', { name: 'Suppressed (1)' }).getAttribute('aria-selected')).toBe('true');
    const panel = page.getByRole('tabpanel');
    await panel.getByText('left the list in Constant Contact, so the export does not put them back').waitFor();
    const row = panel.getByRole('row').filter({ hasText: email });
    await row.getByText('left_list', { exact: true }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), panel.getByRole('button', { name: 'Download suppressions' }).click()]);
    expect(download.suggestedFilename()).toBe(`${runId}-suppressions.ndjson`);
    const text = fs.readFileSync((await download.path())!, 'utf8');
    expect(text).toBe((await stack.api('admin', 'GET', `/v1/runs/${runId}/suppressions`)).body);
    expect(JSON.parse(text)).toMatchObject({ email, reason: 'left_list' });
    await screenshot(page, 'suppressed');
    await page.getByRole('tab', { name: 'Counts' }).click();
  }

  return { checkRun, downloadRejects, dryRun, fullResyncAfterLeaving, listMembers };
}
