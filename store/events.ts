import type { Db } from './db';

/** The kinds of event a webhook can subscribe to. */
export const EVENT_TYPES = [
  'run.started',
  'run.succeeded',
  'run.failed',
  'run.cancelled',
  'run.skipped',
  'run.awaiting_approval',
  'run.alert',
  'connection.needs_reauthorization',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Something that happened to a run or a connection. `payload` is the exact JSON body a webhook
 * receives (ids, statuses, counts and codes: no profile data, name or token).
 */
export interface StoredEvent {
  id: string;
  type: EventType;
  runId: string | null;
  exportId: string | null;
  connectionId: string | null;
  payload: string;
  createdAt: string;
}

interface EventRow {
  id: string;
  type: EventType;
  run_id: string | null;
  export_id: string | null;
  connection_id: string | null;
  payload: string;
  created_at: string;
}

const toEvent = (r: EventRow): StoredEvent => ({
  id: r.id,
  type: r.type,
  runId: r.run_id,
  exportId: r.export_id,
  connectionId: r.connection_id,
  payload: r.payload,
  createdAt: r.created_at,
});

/** Events, recorded once each: an event id is derived from what happened, so a retried recording is a no-op. */
export class EventRepository {
  constructor(private readonly db: Db) {}

  /** Records the event; answers true when it was new, false when it was recorded before. */
  async record(event: StoredEvent): Promise<boolean> {
    const r = await this.db.run(
      `INSERT INTO events (id, type, run_id, export_id, connection_id, payload, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      [event.id, event.type, event.runId, event.exportId, event.connectionId, event.payload, event.createdAt],
    );
    return r.changes > 0;
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const row = await this.db.get<EventRow>('SELECT * FROM events WHERE id = ?', [id]);
    return row ? toEvent(row) : undefined;
  }
}
