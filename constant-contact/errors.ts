import { ConstantContactError, type ConstantContactErrorCode } from './types';

/**
 * Classification of Constant Contact failures into typed codes, done once, here: callers (the
 * activities) act on the code, never on HTTP statuses or messages. Messages carry Constant Contact's error_key and error_message,
 * scrubbed of anything that looks like an email or a token, never a request body.
 */

export interface ErrorContext {
  /** What was called, e.g. "Constant Contact GET /contact_lists/{list_id}". */
  what: string;
  /** The route template for metrics, e.g. "GET /contact_lists/{list_id}". */
  endpoint?: string;
  connectionId?: string;
  /** Set for the token endpoint, whose errors are OAuth-shaped. */
  oauth?: 'exchange' | 'refresh';
}

type Headers = Record<string, string | string[] | undefined>;

const EMAIL = /[^\s@"'<>()[\],;:]+@[^\s@"'<>()[\],;:]+\.[^\s@"'<>()[\],;:]+/g;
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const LONG_TOKEN = /[A-Za-z0-9_\-+/=.~]{32,}/g;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Removes emails and token-like strings from text that came from Constant Contact. */
export function scrub(text: string, max = 300): string {
  const clean = text.replace(EMAIL, '[email]').replace(JWT, '[token]').replace(LONG_TOKEN, (m) => (UUID.test(m) ? m : '[redacted]')).replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** `Retry-After` as milliseconds from now (delta-seconds or an HTTP date), or undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const raw = headers['retry-after'];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

interface ErrorDetail {
  key?: string;
  message?: string;
}

/** Both documented body shapes: `[{error_key, error_message}]` and a single object; OAuth's `{error, error_description}`. */
export function parseErrorBody(text: string): ErrorDetail {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return text.trim() ? { message: text.trim().slice(0, 500) } : {};
  }
  const first = Array.isArray(json) ? json[0] : json;
  if (!first || typeof first !== 'object') return {};
  const o = first as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const nested = o.error && typeof o.error === 'object' ? (o.error as Record<string, unknown>) : undefined;
  return {
    key: str(o.error_key) ?? str(o.error) ?? str(nested?.code),
    message: str(o.error_message) ?? str(o.error_description) ?? str(o.message) ?? str(nested?.message),
  };
}

const byStatus: Record<number, ConstantContactErrorCode> = {
  400: 'bad_request',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  415: 'unsupported_media_type',
};

/** The typed error for a non-2xx answer (401 of /v3 is handled by the caller: refresh once, then this). */
export function errorFromResponse(ctx: ErrorContext, status: number, headers: Headers, text: string, nowMs: number): ConstantContactError {
  const detail = parseErrorBody(text);
  const said = [detail.key, detail.message].filter(Boolean).map((s) => scrub(s!)).join(': ');
  const message = `${ctx.what}: ${status}${said ? ` ${said}` : ''}`;
  const wait = retryAfterMs(headers, nowMs);
  if (status === 429) return new ConstantContactError('throttled', message, true, wait, status);
  if (status >= 500) return new ConstantContactError('server_error', message, true, wait, status);
  if (status === 408) return new ConstantContactError('network_error', message, true, wait, status);
  if (ctx.oauth) {
    if (detail.key === 'invalid_grant') {
      return ctx.oauth === 'refresh'
        ? new ConstantContactError('needs_reauthorization', message, false, undefined, status)
        : new ConstantContactError('oauth_error', message, false, undefined, status);
    }
    return new ConstantContactError('oauth_error', message, false, undefined, status);
  }
  if (status === 401) return new ConstantContactError('needs_reauthorization', message, false, undefined, status);
  const code = byStatus[status] ?? (status >= 400 ? 'bad_request' : 'invalid_response');
  return new ConstantContactError(code, message, false, undefined, status);
}

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED', 'UND_ERR_ABORTED',
]);

/** A request that got no answer: reset, refused, timed out. Always retryable. */
export function networkError(ctx: ErrorContext, err: unknown): ConstantContactError {
  if (err instanceof ConstantContactError) return err;
  const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } };
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const code = (str(e?.code) && NETWORK_CODES.has(str(e?.code)!) ? str(e?.code) : undefined) ?? str(e?.cause?.code) ?? str(e?.code) ?? str(e?.name) ?? 'unknown';
  return new ConstantContactError('network_error', `${ctx.what}: no answer (${scrub(String(code), 40)})`, true);
}
