import { newId } from '../common/ids';
import { decodeCursor, keysetPage } from '../common/paging';
import type { SecretBox } from '../common/secrets';
import type { Db } from './db';
import type { EventType } from './events';
import type { Page } from './types';

/**
 * Webhook endpoints, their deliveries (one per endpoint and event) and each delivery's attempts.
 * The signing secret is sealed with SECRETS_KEY, bound to the webhook id; deleting a webhook forgets
 * it and keeps the history of its deliveries.
 */

export interface Webhook {
  id: string;
  url: string;
  events: EventType[];
  /** Only this export's events (and its connection's) reach the endpoint; null: every export's. */
  exportId: string | null;
  createdAt: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryAttempt {
  attempt: number;
  at: string;
  /** The receiver's HTTP status; null when it did not answer. */
  statusCode: number | null;
  /** Why the attempt failed when it did (no answer, refused address, non-2xx). */
  error: string | null;
  durationMs: number;
}

export interface WebhookDelivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: EventType;
  runId: string | null;
  exportId: string | null;
  connectionId: string | null;
  workflowId: string;
  status: DeliveryStatus;
  /** Why a failed delivery failed. */
  error: string | null;
  attempts: DeliveryAttempt[];
  createdAt: string;
  finishedAt: string | null;
}

/** What a delivery attempt needs: where, with which secret, what body. */
export interface DeliveryTarget {
  deliveryId: string;
  status: DeliveryStatus;
  eventId: string;
  eventType: EventType;
  payload: string;
  url: string;
  /** null when the webhook was deleted. */
  secret: string | null;
}

interface WebhookRow {
  id: string;
  url: string;
  events: string;
  export_id: string | null;
  secret: string | null;
  created_at: string;
  deleted_at: string | null;
}

interface DeliveryRow {
  id: string;
  webhook_id: string;
  event_id: string;
  type: EventType;
  run_id: string | null;
  export_id: string | null;
  connection_id: string | null;
  workflow_id: string;
  status: DeliveryStatus;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

interface AttemptRow {
  delivery_id: string;
  attempt: number;
  at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

const toWebhook = (r: WebhookRow): Webhook => ({
  id: r.id,
  url: r.url,
  events: JSON.parse(r.events) as EventType[],
  exportId: r.export_id,
  createdAt: r.created_at,
});

const toAttempt = (r: AttemptRow): DeliveryAttempt => ({
  attempt: Number(r.attempt),
  at: r.at,
  statusCode: r.status_code === null ? null : Number(r.status_code),
  error: r.error,
  durationMs: Number(r.duration_ms),
});

const DELIVERY_SELECT = `SELECT d.id, d.webhook_id, d.event_id, e.type, e.run_id, e.export_id, e.connection_id, d.workflow_id, d.status, d.error, d.created_at, d.finished_at
  FROM webhook_deliveries d JOIN events e ON e.id = d.event_id`;

export class WebhookRepository {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
  ) {}

  async create(input: { url: string; events: readonly EventType[]; exportId: string | null; secret: string; now: string }): Promise<Webhook> {
    const id = newId('whk');
    await this.db.run(
      'INSERT INTO webhooks (id, url, events, export_id, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      [id, input.url, JSON.stringify([...new Set(input.events)]), input.exportId, this.secrets.seal(input.secret, `webhook:${id}`), input.now],
    );
    return (await this.get(id))!;
  }

  /** A webhook that was not deleted. */
  async get(id: string): Promise<Webhook | undefined> {
    const row = await this.db.get<WebhookRow>('SELECT * FROM webhooks WHERE id = ? AND deleted_at IS NULL', [id]);
    return row && toWebhook(row);
  }

  /** Oldest first, keyset-paged by id. */
  async list(options: { limit: number; cursor?: string }): Promise<Page<Webhook>> {
    const position = decodeCursor(options.cursor, 1);
    const rows = await this.db.all<WebhookRow>(
      `SELECT * FROM webhooks WHERE deleted_at IS NULL ${position ? 'AND id > ?' : ''} ORDER BY id LIMIT ?`,
      [...(position ? [position[0]] : []), options.limit + 1],
    );
    const page = keysetPage(rows, options.limit, (last) => [last.id]);
    return { items: page.rows.map(toWebhook), nextCursor: page.nextCursor };
  }

  /** Every webhook that was not deleted (admins register a handful): the candidates for an event. */
  async active(): Promise<Webhook[]> {
    const rows = await this.db.all<WebhookRow>('SELECT * FROM webhooks WHERE deleted_at IS NULL ORDER BY id');
    return rows.map(toWebhook);
  }

  /** Deletes the webhook and forgets its secret; its deliveries stay. Answers false when there was none. */
  async delete(id: string, now: string): Promise<boolean> {
    const r = await this.db.run('UPDATE webhooks SET deleted_at = ?, secret = NULL WHERE id = ? AND deleted_at IS NULL', [now, id]);
    return r.changes > 0;
  }

  // ------------------------------------------------------------------ deliveries

  /** The delivery of an event to a webhook, created pending unless it exists. */
  async ensureDelivery(input: { webhookId: string; eventId: string; workflowId: string; now: string }): Promise<WebhookDelivery> {
    await this.db.run(
      `INSERT INTO webhook_deliveries (id, webhook_id, event_id, workflow_id, status, created_at)
       VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT (webhook_id, event_id) DO NOTHING`,
      [newId('dlv'), input.webhookId, input.eventId, input.workflowId, input.now],
    );
    const row = await this.db.get<DeliveryRow>(`${DELIVERY_SELECT} WHERE d.webhook_id = ? AND d.event_id = ?`, [input.webhookId, input.eventId]);
    return (await this.withAttempts([row!]))[0];
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const row = await this.db.get<DeliveryRow>(`${DELIVERY_SELECT} WHERE d.id = ?`, [id]);
    return row ? (await this.withAttempts([row]))[0] : undefined;
  }

  async deliveryTarget(deliveryId: string): Promise<DeliveryTarget | undefined> {
    const row = await this.db.get<{ id: string; status: DeliveryStatus; event_id: string; type: EventType; payload: string; url: string; secret: string | null; webhook_id: string }>(
      `SELECT d.id, d.status, d.event_id, e.type, e.payload, w.url, w.secret, w.id AS webhook_id
         FROM webhook_deliveries d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id
        WHERE d.id = ?`,
      [deliveryId],
    );
    if (!row) return undefined;
    return {
      deliveryId: row.id,
      status: row.status,
      eventId: row.event_id,
      eventType: row.type,
      payload: row.payload,
      url: row.url,
      secret: row.secret === null ? null : this.secrets.open(row.secret, `webhook:${row.webhook_id}`),
    };
  }

  /**
   * Records one attempt and where the delivery stands after it. A delivery that ended stays as it
   * ended; an attempt recorded already (the same attempt number) is kept as it was.
   */
  async recordAttempt(deliveryId: string, attempt: DeliveryAttempt, status: DeliveryStatus): Promise<void> {
    await this.db.tx(async (tx) => {
      await tx.run(
        `INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (delivery_id, attempt) DO NOTHING`,
        [deliveryId, attempt.attempt, attempt.at, attempt.statusCode, attempt.error, Math.round(attempt.durationMs)],
      );
      if (status !== 'pending') await this.finish(tx, deliveryId, status, attempt.at, status === 'failed' ? attempt.error : null);
    });
  }

  /** Ends a pending delivery without an attempt (its webhook was deleted, or the retries ran out). */
  async endDelivery(deliveryId: string, status: Exclude<DeliveryStatus, 'pending'>, error: string, now: string): Promise<void> {
    await this.finish(this.db, deliveryId, status, now, error);
  }

  private async finish(db: Db, deliveryId: string, status: Exclude<DeliveryStatus, 'pending'>, at: string, error: string | null): Promise<void> {
    await db.run(`UPDATE webhook_deliveries SET status = ?, finished_at = ?, error = ? WHERE id = ? AND status = 'pending'`, [status, at, error, deliveryId]);
  }

  /** A webhook's deliveries, newest first, keyset-paged by (createdAt, id), each with its attempts. */
  async listDeliveries(webhookId: string, options: { limit: number; cursor?: string }): Promise<Page<WebhookDelivery>> {
    const position = decodeCursor(options.cursor, 2);
    const params: unknown[] = [webhookId];
    let where = 'd.webhook_id = ?';
    if (position) {
      where += ' AND (d.created_at < ? OR (d.created_at = ? AND d.id < ?))';
      params.push(position[0], position[0], position[1]);
    }
    const rows = await this.db.all<DeliveryRow>(`${DELIVERY_SELECT} WHERE ${where} ORDER BY d.created_at DESC, d.id DESC LIMIT ?`, [...params, options.limit + 1]);
    const page = keysetPage(rows, options.limit, (last) => [last.created_at, last.id]);
    return { items: await this.withAttempts(page.rows), nextCursor: page.nextCursor };
  }

  private async withAttempts(rows: DeliveryRow[]): Promise<WebhookDelivery[]> {
    if (rows.length === 0) return [];
    const attempts = await this.db.all<AttemptRow>(
      `SELECT * FROM webhook_attempts WHERE delivery_id IN (${rows.map(() => '?').join(', ')}) ORDER BY delivery_id, attempt`,
      rows.map((r) => r.id),
    );
    const byDelivery = new Map<string, DeliveryAttempt[]>();
    for (const a of attempts) byDelivery.set(a.delivery_id, [...(byDelivery.get(a.delivery_id) ?? []), toAttempt(a)]);
    return rows.map((r) => ({
      id: r.id,
      webhookId: r.webhook_id,
      eventId: r.event_id,
      eventType: r.type,
      runId: r.run_id,
      exportId: r.export_id,
      connectionId: r.connection_id,
      workflowId: r.workflow_id,
      status: r.status,
      error: r.error,
      attempts: byDelivery.get(r.id) ?? [],
      createdAt: r.created_at,
      finishedAt: r.finished_at,
    }));
  }
}
