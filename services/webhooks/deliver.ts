import { Agent, request } from 'undici';
import { assertPublicAddress, guardedLookup, WebhookAddressError, type LookupAll } from './address';
import { SIGNATURE_HEADER, signatureHeader } from './signature';

/**
 * One webhook POST: the event's body, signed, to the endpoint, within a timeout. Redirects are not
 * followed (one could point at a private address); the receiver's answer body is read and dropped.
 */

export interface WebhookPost {
  url: string;
  secret: string;
  body: string;
  eventType: string;
  eventId: string;
  deliveryId: string;
  /** The attempt's time, for the signature's timestamp. */
  now: Date;
}

export interface WebhookPostResult {
  /** The receiver's status; null when it did not answer. */
  statusCode: number | null;
  /** Why it did not succeed: no answer, a refused address, or a non-2xx status. */
  error: string | null;
  /** The address was refused (not private-allowed): retrying cannot help. */
  refused: boolean;
  durationMs: number;
}

export interface WebhookSenderOptions {
  allowPrivate: boolean;
  timeoutMs?: number;
  /** Name resolution (tests replace it to play DNS rebinding). */
  lookup?: LookupAll;
}

export function createWebhookSender(options: WebhookSenderOptions) {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const agent = new Agent({
    connect: { timeout: timeoutMs, lookup: guardedLookup(options) },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 10_000,
  });

  async function send(post: WebhookPost): Promise<WebhookPostResult> {
    const started = Date.now();
    const result = (statusCode: number | null, error: string | null, refused = false): WebhookPostResult => ({
      statusCode,
      error,
      refused,
      durationMs: Date.now() - started,
    });
    try {
      // A name is checked by the lookup of the connection itself; an IP literal is connected to without one.
      assertPublicAddress(new URL(post.url).hostname, options);
      const res = await request(post.url, {
        method: 'POST',
        dispatcher: agent,
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'segment-export-webhooks/1',
          [SIGNATURE_HEADER.toLowerCase()]: signatureHeader(post.secret, post.body, Math.floor(post.now.getTime() / 1000)),
          'x-segment-export-event': post.eventType,
          'x-segment-export-event-id': post.eventId,
          'x-segment-export-delivery': post.deliveryId,
        },
        body: post.body,
      });
      await res.body.dump().catch(() => undefined);
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      return result(res.statusCode, ok ? null : `the endpoint answered ${res.statusCode}`);
    } catch (err) {
      const refused = addressError(err);
      if (refused) return result(null, refused.message, true);
      const e = err as { code?: string; name?: string; cause?: { code?: string } };
      return result(null, `no answer (${e.cause?.code ?? e.code ?? e.name ?? 'error'})`);
    }
  }

  return { send, close: () => agent.close() };
}

export type WebhookSender = ReturnType<typeof createWebhookSender>;

function addressError(err: unknown): WebhookAddressError | undefined {
  for (let e = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof WebhookAddressError) return e;
  }
  return undefined;
}
