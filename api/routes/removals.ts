import { z } from 'zod';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ApiError, conflict, notFound } from '../errors';
import { runJson } from '../run-view';
import {
  NOT_AWAITING_APPROVAL,
  decideRemovalsUpdate,
  removalsWorkflowId,
  type RemovalDecisionAnswer,
} from '../../workflows/mirrorRemovals';
import type { AppDeps } from '../deps';
import type { RouteRegistry } from '../http';
import { runIdSchema } from '../schemas/exports';
import { runSchema } from './runs';

/**
 * Mirror mode's guard: a run that would remove more than the export's
 * maxRemovalPercent of the list's members waits in phase `awaiting-approval`; an admin lets it go
 * on (`approve`: the planned removals are made) or not (`reject`: every member stays and the run
 * ends succeeded without removals).
 *
 * The decision is a Temporal update of the run's removals workflow: it is answered only once the
 * workflow accepted it, so a 200 means the decision is recorded durably. The first decision stays.
 */

const params = z.object({ id: runIdSchema }).strict();
const body = z.object({ decision: z.enum(['approve', 'reject']) }).strict();

const answerSchema = z.object({
  decision: z.enum(['approved', 'rejected']).describe('what the run does: approved (it removes the planned members) or rejected (nobody is removed)'),
  run: runSchema,
});

/** How long the API waits for the workflow to accept a decision (a worker must be running). */
const UPDATE_DEADLINE_MS = 20_000;

export function registerRemovalsRoutes(routes: RouteRegistry, deps: AppDeps): void {
  const { store, config, temporal } = deps;

  routes.add(
    {
      method: 'post',
      path: '/v1/runs/:id/removals',
      summary: 'Approve or reject the removals a mirror-mode run waits for (phase awaiting-approval)',
      tag: 'runs',
      roles: ['admin'],
      params,
      body,
      response: { status: 200, schema: answerSchema, description: 'the decision is recorded; the run goes on' },
      errors: {
        404: 'no such run',
        409: 'run_not_awaiting_approval: the run is not waiting for a removal decision (not mirror mode, over the limit, decided already, timed out or finished)',
        503: 'temporal_unavailable: the decision could not be delivered in time (is a worker running?); send it again',
      },
      audit: { action: 'run.removals.decide', resource: 'run', summary: ({ body }) => ({ decision: body.decision }) },
    },
    async ({ params: { id }, body: { decision } }) => {
      const run = await store.runs.get(id);
      if (!run) throw notFound('run');
      if (run.status !== 'running' || run.phase !== 'awaiting-approval') {
        throw conflict(NOT_AWAITING_APPROVAL, `run ${id} is not awaiting approval of removals (status ${run.status}, phase ${run.phase})`);
      }
      const handle = temporal.workflow.getHandle(removalsWorkflowId(run.workflowId));
      let answer: RemovalDecisionAnswer;
      try {
        answer = await temporal.withDeadline(Date.now() + UPDATE_DEADLINE_MS, () =>
          // One update id per run: a decision sent again after a lost answer is not applied twice.
          handle.executeUpdate(decideRemovalsUpdate, { args: [{ decision }], updateId: `removals-decision-${run.id}` }),
        );
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === NOT_AWAITING_APPROVAL) {
          throw conflict(NOT_AWAITING_APPROVAL, `run ${id} is not awaiting approval of removals any more`);
        }
        if (err instanceof WorkflowNotFoundError) {
          throw conflict(NOT_AWAITING_APPROVAL, `run ${id} has no removals waiting for a decision`);
        }
        if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadline(err)) {
          throw new ApiError(503, 'temporal_unavailable', 'the decision could not be delivered to the run in time; send it again');
        }
        throw err;
      }
      const wanted = decision === 'approve' ? 'approved' : 'rejected';
      if (answer.decision !== wanted) {
        throw conflict(NOT_AWAITING_APPROVAL, `run ${id} has a decision already: ${answer.decision}`);
      }
      const after = (await store.runs.get(id)) ?? run;
      return { decision: answer.decision, run: runJson(after, config.temporal) };
    },
  );
}

function isDeadline(err: unknown): boolean {
  const e = err as { code?: unknown; details?: unknown } | null;
  // gRPC DEADLINE_EXCEEDED (4) or CANCELLED (1) from the client's deadline.
  return e?.code === 4 || e?.code === 1;
}
