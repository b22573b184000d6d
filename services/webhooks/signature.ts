import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures: HMAC-SHA256 with the webhook's secret over `<unix seconds>.<body>`, sent as
 *
 *   X-Segment-Export-Signature: t=<unix seconds>,v1=<hex digest>
 *
 * A receiver recomputes the digest over the raw body it received, compares in constant time, and
 * refuses timestamps outside its replay window (5 minutes is the recommended tolerance).
 */

export const SIGNATURE_HEADER = 'X-Segment-Export-Signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

const digest = (secret: string, timestamp: number, body: string) => createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');

/** The header value for `body` signed at `timestamp` (unix seconds). */
export function signatureHeader(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${digest(secret, timestamp, body)}`;
}

/** True when `header` signs `body` with `secret` and its timestamp is within the tolerance of `nowSeconds`. */
export function verifySignature(
  header: string | null | undefined,
  body: string,
  secret: string,
  options: { nowSeconds?: number; toleranceSeconds?: number } = {},
): boolean {
  const parts = new Map((header ?? '').split(',').map((p) => [p.slice(0, p.indexOf('=')).trim(), p.slice(p.indexOf('=') + 1).trim()] as const));
  const timestamp = Number(parts.get('t'));
  const given = parts.get('v1') ?? '';
  if (!Number.isInteger(timestamp) || !/^[0-9a-f]{64}$/.test(given)) return false;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;
  return timingSafeEqual(Buffer.from(given, 'hex'), Buffer.from(digest(secret, timestamp, body), 'hex'));
}
