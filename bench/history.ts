import type { Client } from '@temporalio/client';

type Event = { eventType?: unknown; eventTime?: { seconds?: unknown; nanos?: number | null } | null; [k: string]: unknown };

/** Events and time per phase from the run's workflow history (every execution of its continue-as-new chain). */
export async function readHistory(client: Client, workflowId: string): Promise<{ events: number; executions: number; phases: Record<string, number>; firstUploadSeconds: number | null }> {
  const events: Event[] = [];
  let executions = 0;
  for await (const e of client.workflow.list({ query: `WorkflowId="${workflowId}"` })) {
    const h = await client.workflow.getHandle(workflowId, e.runId).fetchHistory();
    events.push(...((h.events ?? []) as unknown as Event[]));
    executions++;
  }
  const time = (e: Event) => Number(e.eventTime?.seconds ?? 0) + (e.eventTime?.nanos ?? 0) / 1e9;
  events.sort((a, b) => time(a) - time(b));
  // Event types arrive as enum numbers (temporal.api.enums.v1.EventType) or names.
  const NAMES: Record<number, string> = { 1: 'WORKFLOW_EXECUTION_STARTED', 10: 'ACTIVITY_TASK_SCHEDULED', 12: 'ACTIVITY_TASK_COMPLETED', 13: 'ACTIVITY_TASK_FAILED', 14: 'ACTIVITY_TASK_TIMED_OUT' };
  const type = (e: Event) => (typeof e.eventType === 'number' ? (NAMES[e.eventType] ?? String(e.eventType)) : String(e.eventType));
  // activity type by scheduled event id, per execution order (ids repeat across executions: key by time order)
  const scheduled = new Map<string, { type: string; at: number }>();
  const spans: Record<string, { first: number; last: number; busy: number; firstEnd: number }> = {};
  let execution = 0;
  for (const e of events) {
    const t = type(e);
    if (t.includes('WORKFLOW_EXECUTION_STARTED')) execution++;
    if (t.includes('ACTIVITY_TASK_SCHEDULED')) {
      const a = e.activityTaskScheduledEventAttributes as { activityType?: { name?: string } };
      scheduled.set(`${execution}:${String((e as { eventId?: unknown }).eventId)}`, { type: a?.activityType?.name ?? '?', at: time(e) });
    }
    if (t.includes('ACTIVITY_TASK_COMPLETED') || t.includes('ACTIVITY_TASK_FAILED') || t.includes('ACTIVITY_TASK_TIMED_OUT')) {
      const attrs = (e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes) as { scheduledEventId?: unknown };
      const s = scheduled.get(`${execution}:${String(attrs?.scheduledEventId)}`);
      if (!s) continue;
      const span = (spans[s.type] ??= { first: s.at, last: time(e), busy: 0, firstEnd: time(e) });
      span.first = Math.min(span.first, s.at);
      span.firstEnd = Math.min(span.firstEnd, time(e));
      span.last = Math.max(span.last, time(e));
      span.busy += time(e) - s.at;
    }
  }
  const start = events.length ? time(events[0]) : 0;
  const end = events.length ? time(events[events.length - 1]) : 0;
  const phases: Record<string, number> = {};
  const span = (name: string) => spans[name];
  if (span('validateRun')) phases['validate (start → validated)'] = span('validateRun').last - start;
  if (span('startListRead') && span('loadListExport')) phases['list read'] = span('loadListExport').last - span('startListRead').first;
  if (span('snapshotRun')) phases.snapshot = span('snapshotRun').last - span('snapshotRun').first;
  if (span('uploadChunk')) phases['upload chunks (first → last)'] = span('uploadChunk').last - span('uploadChunk').first;
  if (span('uploadChunk')) phases['  of which in uploadChunk activities'] = span('uploadChunk').busy;
  if (span('pollImports')) phases['  of which in pollImports activities'] = span('pollImports').busy;
  if (span('pollImports') && span('uploadChunk')) phases['imports after the last upload'] = Math.max(0, span('pollImports').last - span('uploadChunk').last);
  if (span('finalizeRun')) phases['finalize'] = end - span('finalizeRun').first;
  phases['workflow start → end'] = end - start;
  // An upload posts its import at its end: the first one's end is when the first import was posted.
  const firstUploadSeconds = span('uploadChunk') ? span('uploadChunk').firstEnd - start : null;
  return { events: events.length, executions, phases, firstUploadSeconds };
}
