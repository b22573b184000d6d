import { z } from 'zod';
import { ApiError, notFound } from '../errors';
import { pageQuery } from '../../common/paging';
import { cancelRun } from '../../services/run-repair';
import { RunStartError, startRun } from '../../services/run-start';
import { runJson, withAlerts, type RunWithAlerts } from '../run-view';
import { ALERT_REASONS } from '../../store/alerts';
import type { AppDeps } from '../deps';
import type { Role } from '../../store/types';
import type { RouteRegistry } from '../http';
import { exportIdSchema, runIdSchema } from '../schemas/exports';
import { visibleExport, visibleRun } from '../access';
import { sendPersonalRows } from '../personal-rows';

/**
 * Runs: start one on demand, read them, cancel one, stream its rejects (raw values for admins only).
 *
 * Roles follow the exports: admins see every run; contributors the runs of exports on connections
 * shared with them (anything else answers 404, as if absent). Run history stays readable after
 * its export is deleted.
 */

const EVERYONE = ['admin', 'contributor'] as const;

const runIdParams = z.object({ id: runIdSchema }).strict();
const exportParams = z.object({ id: exportIdSchema }).strict();

const countsSchema = z.object({
  segmentProfiles: z.number(),
  sent: z.number(),
  imported: z.number(),
  rejected: z.number(),
  duplicates: z.number(),
  unsubscribed: z.number(),
  removed: z.number(),
  constantContactErrors: z.number(),
  added: z.number().describe('of sent: contacts not delivered before (or removed by this service)'),
  updated: z.number().describe('of sent: contacts delivered before whose values changed'),
  unchanged: z.number().describe('delivered before with the same values and still on the list: not sent'),
  suppressed: z.number().describe('deliberately not sent (see suppressedByReason and /suppressions)'),
  suppressedByReason: z.object({ left_list: z.number() }),
  plannedRemovals: z.number().optional(),
});

const planSchema = z.object({
  toAdd: z.number(),
  toUpdate: z.number(),
  unchanged: z.number(),
  suppressed: z.number(),
  suppressedByReason: z.object({ left_list: z.number() }),
  rejected: z.number(),
  duplicates: z.number(),
  toRemove: z.number().describe('mirror mode: list members the run would remove'),
  needsApproval: z.boolean().describe("the removals exceed the export's maxRemovalPercent"),
  requests: z.object({ imports: z.number(), statusReads: z.number(), removals: z.number(), total: z.number() }),
  dailyQuotaLeft: z.number().nullable(),
});

const runOptionsBody = z
  .strictObject({
    fullResync: z.boolean().optional().describe('send every profile whatever was delivered before (never a contact who left the list)'),
    dryRun: z.boolean().optional().describe('read the list, snapshot and classify, end succeeded with a plan; posts nothing, changes nothing'),
  })
  .describe('optional');

export const runSchema = z.object({
  id: z.string(),
  exportId: z.string(),
  status: z.enum(['running', 'succeeded', 'failed', 'cancelled', 'skipped']),
  trigger: z.enum(['on-demand', 'schedule', 'refresh']),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  workflowId: z.string().describe('the Temporal workflow id (export-run-<exportId>-<runId>); empty for a skipped run that no workflow decided'),
  temporalUiUrl: z.string().describe("opens the run's workflow in the Temporal Web UI (for a skipped run without a workflow: the export's runs there)"),
  progress: z.object({
    phase: z.enum(['validating', 'snapshotting', 'uploading', 'waiting-for-import', 'awaiting-approval', 'removing', 'waiting-for-quota', 'finalizing', 'done']),
    chunksDone: z.number().describe('chunks whose import Constant Contact finished'),
    chunksTotal: z.number().describe('chunks of the run (an estimate until the last one is cut)'),
    percent: z.number(),
  }),
  counts: countsSchema.describe('segmentProfiles = sent + unchanged + suppressed + rejected + duplicates; sent = imported + unsubscribed + constantContactErrors'),
  dryRun: z.boolean(),
  fullResync: z.boolean(),
  plan: planSchema.nullable().describe("a dry run's plan once it succeeded; null otherwise"),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  alerts: z
    .array(
      z.object({
        reason: z.enum(ALERT_REASONS),
        message: z.string(),
        threshold: z.number().describe('percent (rejected_share, segment_size_change) or minutes (run_duration)'),
        value: z.number(),
        figures: z.record(z.string(), z.number()),
      }),
    )
    .describe("alerts the run raised when it ended (thresholds: GET /v1/exports/{id}/alerts); each is also a run.alert webhook event"),
});

const runEnvelope = z.object({ run: runSchema });

export function registerRunsRoutes(routes: RouteRegistry, deps: AppDeps): void {
  const { store, config } = deps;
  const view = (run: RunWithAlerts) => runJson(run, config.temporal);


  routes.add(
    {
      method: 'post',
      path: '/v1/exports/:id/runs',
      summary: 'Run an export now (trigger on-demand); the run goes on as a Temporal workflow',
      tag: 'runs',
      roles: EVERYONE,
      params: exportParams,
      body: runOptionsBody,
      response: { status: 202, schema: runEnvelope, description: 'the run was started' },
      errors: {
        404: 'no such export, or not visible to the caller',
        409: 'run_in_progress (error.runId names the running run) or export_detached',
        503: 'temporal_unavailable: the run could not be started (it is recorded as failed)',
      },
      audit: {
        action: 'run.start',
        resource: 'run',
        id: (_ctx, result) => (result as { run: { id: string } }).run.id,
        summary: ({ params, body }) => ({ exportId: params.id, ...(body ?? {}) }),
      },
    },
    async ({ params, body, role, res, requestId }) => {
      const exp = await visibleExport(deps, params.id, role);
      const options = { fullResync: body.fullResync ?? false, dryRun: body.dryRun ?? false };
      let outcome;
      try {
        outcome = await startRun({ ...deps, logger: deps.logger }, { exportId: exp.id, trigger: 'on-demand', options });
      } catch (err) {
        if (err instanceof RunStartError) {
          throw new ApiError(503, 'temporal_unavailable', `the run could not be started because Temporal did not accept it; it is recorded as run ${err.run.id} (failed)`);
        }
        throw err;
      }
      if (outcome.outcome === 'refused') {
        if (outcome.code === 'export_not_found') throw notFound('export');
        if (outcome.code === 'run_in_progress') {
          res.status(409).json({
            error: { code: 'run_in_progress', message: outcome.message, runId: outcome.runningRunId, details: [{ runId: outcome.runningRunId }], requestId },
          });
          return undefined;
        }
        throw new ApiError(409, outcome.code, outcome.message);
      }
      return { run: view(outcome.run) };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/exports/:id/runs',
      summary: "An export's runs, newest first (also of a deleted export)",
      tag: 'runs',
      roles: EVERYONE,
      params: exportParams,
      query: pageQuery,
      response: { status: 200, schema: z.object({ items: z.array(runSchema), nextCursor: z.string().nullable() }) },
      errors: { 404: 'no such export, or not visible to the caller' },
    },
    async ({ params, query, role }) => {
      const exp = await visibleExport(deps, params.id, role, { includeDeleted: true });
      const page = await store.runs.listByExport(exp.id, { limit: query.limit, cursor: query.cursor });
      return { items: (await withAlerts(store, page.items)).map(view), nextCursor: page.nextCursor };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/runs/:id',
      summary: 'A run: status, progress, counts, error and its Temporal UI link',
      tag: 'runs',
      roles: EVERYONE,
      params: runIdParams,
      response: { status: 200, schema: runSchema },
      errors: { 404: 'no such run, or not visible to the caller' },
    },
    async ({ params, role }) => view(await visibleRunWithAlerts(deps, params.id, role)),
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/runs/:id/cancel',
      summary: 'Cancel a running run: it uploads nothing more and ends cancelled',
      tag: 'runs',
      roles: EVERYONE,
      params: runIdParams,
      response: { status: 202, schema: runEnvelope, description: 'cancellation requested; the run ends `cancelled` shortly' },
      errors: { 404: 'no such run, or not visible to the caller', 409: 'run_not_running: the run has ended already' },
      audit: { action: 'run.cancel', resource: 'run' },
    },
    async ({ params, role }) => {
      const run = await visibleRun(deps, params.id, role);
      const outcome = await cancelRun({ ...deps }, run);
      if (outcome.outcome === 'not_running') {
        throw new ApiError(409, 'run_not_running', `run ${run.id} is ${run.status}: only a running run can be cancelled`);
      }
      return { run: view(outcome.run) };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/runs/:id/rejects',
      summary: 'The profiles a run did not send and why, one JSON object a line: {profileId, email, reason} (email for admins only)',
      description:
        "`email` is the raw value the export's mapping read as the email (it may be any profile attribute), so only admins get it; other callers get `profileId` and `reason`.",
      tag: 'runs',
      roles: EVERYONE,
      params: runIdParams,
      response: {
        status: 200,
        contentType: 'application/x-ndjson',
        schema: z.object({
          profileId: z.string(),
          email: z.string().nullable().optional().describe('admins only: the value that was not sent'),
          reason: z.enum(['missing_email', 'invalid_email', 'email_too_long', 'duplicate_email']),
        }),
        description: 'NDJSON, in the order of the run snapshot',
      },
      errors: { 404: 'no such run, or not visible to the caller' },
    },
    async ({ params, role, res, req }) => {
      const run = await visibleRun(deps, params.id, role);
      return sendPersonalRows(req, res, store.runs.rejects(run.id), role);
    },
  );
}

/**
 * A run the caller may see, with its alerts: both read at once, since a run's page is polled often
 * and on PostgreSQL each read in turn costs a round trip.
 */
async function visibleRunWithAlerts(deps: AppDeps, id: string, role: Role | undefined): Promise<RunWithAlerts> {
  const [run, alerts] = await Promise.all([visibleRun(deps, id, role), deps.store.alerts.ofRuns([id])]);
  return { ...run, alerts: alerts.get(id) ?? [] };
}

/** GET /v1/runs/{id}/suppressions: the profiles a run deliberately did not send (admins only). */
export function registerSuppressionsRoute(routes: RouteRegistry, deps: AppDeps): void {
  routes.add(
    {
      method: 'get',
      path: '/v1/runs/:id/suppressions',
      summary: 'The profiles a run deliberately did not send, one JSON object a line: {profileId, email, reason}',
      description:
        '`left_list`: delivered before, no longer on the list, and not removed by this service: the contact left the list in Constant Contact, whose subscriber preferences win.',
      tag: 'runs',
      roles: ['admin'],
      params: runIdParams,
      response: {
        status: 200,
        contentType: 'application/x-ndjson',
        schema: z.object({ profileId: z.string(), email: z.string().nullable(), reason: z.enum(['left_list']) }),
        description: 'NDJSON, in the order of the run snapshot',
      },
      errors: { 404: 'no such run' },
    },
    async ({ params, role, res, req }) => {
      const run = await visibleRun(deps, params.id, role);
      return sendPersonalRows(req, res, deps.store.ledger.suppressions(run.id), role);
    },
  );
}
