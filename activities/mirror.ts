import type { ActivityDeps } from './index';
import { classified, runFailure, toActivityFailure } from './failures';
import { heartbeat } from './heartbeat';
import { ConstantContactError, terminalActivityStates, type ListMember } from '../constant-contact/types';
import { MirrorRepository, type RemovalDecision } from '../store/mirror';
import { runAwaitingApproval } from '../services/events';
import { emailKeyOf } from './contacts';

/**
 * Mirror mode's activities: read the list's members after the uploads, plan who leaves (members
 * whose email is not in the run's snapshot), apply the guard's decision, and remove the leavers
 * from the list with one remove-list-memberships call of at most 500 contact ids per activity.
 *
 * Contacts are removed from the list only, never deleted. Every input and output is ids, counts,
 * states and links: contact ids and emails stay in the store (store/mirror.ts).
 */

import { REMOVAL_BATCH_SIZE, TARGETED_READS_MAX } from './mirror-limits';

export { REMOVAL_BATCH_SIZE };

export interface ListReadInput {
  runId: string;
  connectionId: string;
  listId: string;
}

export interface StartListReadResult {
  /** The contact export's activity id, or null when the account cannot export (read by pages instead). */
  exportActivityId: string | null;
}

export interface ListExportState {
  state: string;
  terminal: boolean;
  completed: boolean;
  percentDone: number;
  /** The completed export's file (a link, no personal data), read next by loadListExport. */
  resultsHref?: string | null;
}

export interface LoadListExportResult {
  /** false: the export could not be used (failed, or its file names no contact ids): read by pages. */
  loaded: boolean;
  listMembers: number;
}

export interface ReadListPageResult {
  members: number;
  /** The next page's link (a cursor, no personal data), or null at the end. */
  next: string | null;
}

export interface PlanRemovalsInput {
  runId: string;
  /** The guard's limit; default: the export's maxRemovalPercent. */
  maxRemovalPercent?: number;
  /** Overrides the configured approval timeout (REMOVAL_APPROVAL_TIMEOUT_SECONDS). */
  approvalTimeoutMs?: number;
}

export interface PlanRemovalsResult {
  listMembers: number;
  plannedRemovals: number;
  batches: number;
  batchSize: number;
  /** The guard's limit in percent of the list's members. */
  maxRemovalPercent: number;
  /** true when the planned removals exceed maxRemovalPercent of the list's members. */
  needsApproval: boolean;
  approvalTimeoutMs: number;
}

export interface RemoveBatchInput {
  runId: string;
  connectionId: string;
  listId: string;
  batchNo: number;
}

export interface RemoveBatchResult {
  contacts: number;
  activityId: string | null;
}

export interface CheckRemovalBatchResult {
  state: string;
  done: boolean;
  removed: number;
}

export interface FinishRemovalsResult {
  listMembers: number;
  plannedRemovals: number;
  removed: number;
  removalErrors: number;
  decision: RemovalDecision | null;
}

/** Failure types the mirror workflow acts on (in addition to the Constant Contact error codes). */
export const MirrorFailure = {
  removalBatchMissing: 'removal_batch_missing',
} as const;

/** Codes meaning this account or API does not offer a contact export as we ask for it. */
const EXPORT_UNAVAILABLE = new Set(['bad_request', 'not_found', 'forbidden', 'unsupported_media_type', 'invalid_response']);

export function createMirrorActivities(deps: ActivityDeps) {
  const { store, constantContact: cc, logger, clock } = deps;
  const mirror = new MirrorRepository(store.db);
  const now = () => clock().toISOString();

  /** The export's limit (default 20 when the export is gone). */
  async function exportMaxRemovalPercent(runId: string): Promise<number> {
    const run = await store.runs.get(runId);
    const exp = run ? await store.exports.get(run.exportId, { includeDeleted: true }) : undefined;
    return exp?.maxRemovalPercent ?? 20;
  }

  async function storeMembers(runId: string, members: readonly ListMember[]): Promise<void> {
    await mirror.addListMembers(
      runId,
      // A contact export names no contact ids: removals find theirs later (resolveRemovalIds).
      members.map((m) => ({ contactId: m.contactId || null, email: m.email || null })),
    );
  }

  /** The ledger key of a run: its export and the list it delivers to. */
  async function ledgerKeyOf(runId: string): Promise<{ exportId: string; listId: string } | undefined> {
    const [run, state] = await Promise.all([store.runs.get(runId), mirror.get(runId)]);
    return run && state ? { exportId: run.exportId, listId: state.listId } : undefined;
  }

  /** Contact ids for the emails of `missing` (email keys): targeted reads for a few, else the list's pages. */
  async function findContactIds(input: { runId: string; connectionId: string; listId: string }, missing: readonly string[]): Promise<{ email: string; contactId: string }[]> {
    if (missing.length <= TARGETED_READS_MAX) {
      const ids = await cc.findContactIdsByEmail(input.connectionId, [...missing]);
      return [...ids].map(([email, contactId]) => ({ email, contactId }));
    }
    const wanted = new Set(missing);
    const found: { email: string; contactId: string }[] = [];
    let next: string | null = null;
    do {
      const page = await cc.pageListMembers(input.connectionId, { listId: input.listId, next });
      for (const m of page.members) if (m.contactId && m.email && wanted.has(emailKeyOf(m.email))) found.push({ email: m.email, contactId: m.contactId });
      heartbeat({ found: found.length });
      next = page.next;
    } while (next);
    return found;
  }

  return {
    /** Forgets any earlier read of the run's list and starts a contact export of it (one call). */
    async startListRead(input: ListReadInput): Promise<StartListReadResult> {
      await mirror.beginListRead(input.runId, input.listId, now());
      try {
        const { activityId } = await cc.startContactExport(input.connectionId, { listIds: [input.listId] });
        return { exportActivityId: activityId };
      } catch (err) {
        if (err instanceof ConstantContactError && EXPORT_UNAVAILABLE.has(err.code)) {
          logger.warn({ runId: input.runId, code: err.code }, 'contact export unavailable: reading the list by pages');
          return { exportActivityId: null };
        }
        throw toActivityFailure(err);
      }
    },

    /** The state of the list's contact export (one call). */
    async checkListExport(input: { connectionId: string; exportActivityId: string }): Promise<ListExportState> {
      const s = await classified(() => cc.getContactExport(input.connectionId, input.exportActivityId));
      return {
        state: s.state,
        terminal: terminalActivityStates.includes(s.state),
        completed: s.state === 'completed',
        percentDone: s.percentDone,
        resultsHref: s.state === 'completed' ? s.resultsHref : null,
      };
    },

    /**
     * Reads the completed export's file into the store: one call, the file, at the link the last
     * check gave (a run that checked before checks gave links reads the export's state first).
     */
    async loadListExport(input: ListReadInput & { exportActivityId: string; resultsHref?: string | null }): Promise<LoadListExportResult> {
      await mirror.beginListRead(input.runId, input.listId, now());
      try {
        const resultsHref = input.resultsHref !== undefined ? input.resultsHref : (await cc.getContactExport(input.connectionId, input.exportActivityId)).resultsHref;
        if (!resultsHref) return { loaded: false, listMembers: 0 };
        let rows = 0;
        await cc.readContactExport(input.connectionId, resultsHref, async (members) => {
          await storeMembers(input.runId, members);
          rows += members.length;
          heartbeat({ rows });
        });
        return { loaded: true, listMembers: await mirror.countListMembers(input.runId) };
      } catch (err) {
        if (err instanceof ConstantContactError && err.code === 'invalid_response') {
          logger.warn({ runId: input.runId }, 'the contact export file cannot be used: reading the list by pages');
          await mirror.beginListRead(input.runId, input.listId, now());
          return { loaded: false, listMembers: 0 };
        }
        throw toActivityFailure(err);
      }
    },

    /**
     * One page (<= 500) of the list's members into the store (one call): the fallback when the
     * contact export is not available. `next` null starts from the first page and forgets earlier reads.
     */
    async readListPage(input: ListReadInput & { next: string | null }): Promise<ReadListPageResult> {
      if (!input.next) await mirror.beginListRead(input.runId, input.listId, now());
      const page = await classified(() => cc.pageListMembers(input.connectionId, { listId: input.listId, next: input.next }));
      await storeMembers(input.runId, page.members);
      return { members: page.members.length, next: page.next };
    },

    /** Numbers the leavers, records counts.plannedRemovals and says whether the guard holds them. */
    async planRemovals(input: PlanRemovalsInput): Promise<PlanRemovalsResult> {
      const plan = await mirror.planRemovals(input.runId, REMOVAL_BATCH_SIZE, now());
      await store.runs.setCounts(input.runId, { plannedRemovals: plan.plannedRemovals, removed: (await mirror.totals(input.runId)).removed });
      const maxRemovalPercent = input.maxRemovalPercent ?? (await exportMaxRemovalPercent(input.runId));
      const limit = (Math.max(0, maxRemovalPercent) / 100) * plan.listMembers;
      return {
        ...plan,
        batchSize: REMOVAL_BATCH_SIZE,
        maxRemovalPercent,
        needsApproval: plan.plannedRemovals > 0 && plan.plannedRemovals > limit,
        approvalTimeoutMs: input.approvalTimeoutMs ?? deps.config.exports.removalApprovalTimeoutMs ?? 86_400_000,
      };
    },

    /**
     * Gives every planned removal a contact id (the list read by contact export has none): from the
     * ledger, then from Constant Contact — a targeted read per contact for a few, else the list's
     * pages of 500. Ids found are kept in the ledger. Answers the batches to post.
     */
    async resolveRemovalIds(input: { runId: string; connectionId: string; listId: string }): Promise<{ batches: number; withoutId: number }> {
      const key = await ledgerKeyOf(input.runId);
      if (key) await mirror.idsFromLedger(input.runId, key.exportId, key.listId);
      const missing = await mirror.removalsWithoutId(input.runId);
      if (missing.length > 0) {
        const found = await classified(() => findContactIds(input, missing));
        await mirror.setRemovalIds(input.runId, found);
        if (key) await store.ledger.rememberRemovalIds(input.runId, key);
      }
      const withId = await mirror.countRemovalsWithId(input.runId);
      const withoutId = (await mirror.get(input.runId))!.plannedRemovals - withId;
      if (withoutId > 0) logger.warn({ runId: input.runId, withoutId }, 'planned removals without a Constant Contact contact (no longer in the account): skipped');
      return { batches: Math.ceil(withId / REMOVAL_BATCH_SIZE), withoutId };
    },

    /** Shows where the removals are: awaiting-approval, waiting-for-quota, removing. */
    async setRemovalsPhase(input: { runId: string; phase: 'awaiting-approval' | 'waiting-for-quota' | 'removing' }): Promise<void> {
      await store.runs.setPhase(input.runId, input.phase);
      if (input.phase === 'awaiting-approval') await runAwaitingApproval(deps, input.runId);
    },

    /** Records the guard's outcome (the first one stays) and moves the run on. */
    async recordRemovalDecision(input: { runId: string; decision: RemovalDecision }): Promise<{ decision: RemovalDecision }> {
      const decision = await mirror.recordDecision(input.runId, input.decision, now());
      await store.runs.setPhase(input.runId, decision === 'approved' || decision === 'not-needed' ? 'removing' : 'finalizing');
      return { decision };
    },

    /**
     * Removes one batch (<= 500) of leavers from the list: one remove-list-memberships call. A batch
     * whose request was made already is not sent again.
     */
    async removeBatch(input: RemoveBatchInput): Promise<RemoveBatchResult> {
      const existing = await mirror.getBatch(input.runId, input.batchNo);
      if (existing?.activityId) return { contacts: existing.contacts, activityId: existing.activityId };
      const contactIds = (await mirror.removalBatch(input.runId, input.batchNo, REMOVAL_BATCH_SIZE)).map((r) => r.contactId);
      if (contactIds.length === 0) {
        throw runFailure(MirrorFailure.removalBatchMissing, `removal batch ${input.batchNo} of run ${input.runId} has no contacts`);
      }
      const { activityId } = await classified(() =>
        cc.removeListMemberships(input.connectionId, { contactIds, listIds: [input.listId] }),
      );
      const batch = await mirror.recordBatchPosted(input.runId, input.batchNo, contactIds.length, activityId);
      return { contacts: batch.contacts, activityId: batch.activityId };
    },

    /** Polls one batch's activity (one call); once terminal records it and updates counts.removed. */
    async checkRemovalBatch(input: { runId: string; connectionId: string; batchNo: number }): Promise<CheckRemovalBatchResult> {
      const batch = await mirror.getBatch(input.runId, input.batchNo);
      if (!batch?.activityId) {
        throw runFailure(MirrorFailure.removalBatchMissing, `removal batch ${input.batchNo} of run ${input.runId} was not posted`);
      }
      if (terminalActivityStates.includes(batch.state as never)) return { state: batch.state, done: true, removed: batch.removed };
      const s = await classified(() => cc.getActivity(input.connectionId, batch.activityId!));
      if (!terminalActivityStates.includes(s.state)) return { state: s.state, done: false, removed: 0 };
      // person_count: the contacts the activity found and took off the list; ids it did not know are errors.
      const errors = Math.min(batch.contacts, s.errorCount);
      const removed = s.state === 'completed' ? Math.min(batch.contacts, s.personCount > 0 ? s.personCount : batch.contacts - errors) : 0;
      if (s.state === 'completed') {
        // The ledger remembers whom we removed: such a contact re-entering the segment is added again.
        const key = await ledgerKeyOf(input.runId);
        const batchKeys = (await mirror.removalBatch(input.runId, input.batchNo, REMOVAL_BATCH_SIZE)).map((r) => r.emailKey);
        if (key) await store.ledger.markRemoved(key, batchKeys, input.runId, now());
      }
      await mirror.recordBatchDone(input.runId, input.batchNo, { state: s.state, removed, errors: s.state === 'completed' ? errors : batch.contacts });
      await store.runs.setCounts(input.runId, { removed: (await mirror.totals(input.runId)).removed });
      return { state: s.state, done: true, removed };
    },

    /** Final counts of the run's removals; forgets the copy of the list. */
    async finishRemovals(input: { runId: string }): Promise<FinishRemovalsResult> {
      const [state, totals] = await Promise.all([mirror.get(input.runId), mirror.totals(input.runId)]);
      await store.runs.setCounts(input.runId, { removed: totals.removed, plannedRemovals: state?.plannedRemovals ?? 0 });
      await mirror.forgetListMembers(input.runId);
      return {
        listMembers: state?.listMembers ?? 0,
        plannedRemovals: state?.plannedRemovals ?? 0,
        removed: totals.removed,
        removalErrors: totals.errors,
        decision: state?.decision ?? null,
      };
    },
  };
}

export type MirrorActivities = ReturnType<typeof createMirrorActivities>;
