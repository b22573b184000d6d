import type { NextFunction, Request, Response } from 'express';

/** An error of the /v3 API: answered as the documented array body [{error_key, error_message}]. */
export class CcError extends Error {
  constructor(
    readonly status: number,
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, key = 'bad_request') => new CcError(400, key, message);
export const notFound = (message: string) => new CcError(404, 'not_found', message);

export function sendCcError(res: Response, status: number, key: string, message: string): void {
  res.status(status).json([{ error_key: key, error_message: message }]);
}

/** 401 and 429 arrive as a single object, not an array (reference: "accept both"). */
export function sendUnauthorized(res: Response, message = 'Unauthorized'): void {
  res.status(401).json({ error_key: 'unauthorized', error_message: message });
}

export function sendThrottled(res: Response, message = 'Too Many Requests'): void {
  res.status(429).json({ error_key: 'throttled', error_message: message });
}

interface BodyParserError {
  type?: string;
  status?: number;
  message?: string;
}

/** Error middleware of the /v3 router. */
export function ccErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(err);
  if (err instanceof CcError) return sendCcError(res, err.status, err.key, err.message);
  const e = err as BodyParserError;
  if (e.type === 'entity.too.large') return sendCcError(res, 413, 'payload_too_large', 'The request body is too large.');
  if (e.type === 'entity.parse.failed') return sendCcError(res, 400, 'malformed_json', 'The request body is not valid JSON.');
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return sendCcError(res, e.status, 'bad_request', e.message ?? 'Bad request');
  sendCcError(res, 500, 'server_error', 'Internal server error');
}

/**
 * Stamps a request with the time it arrived (its headers were read), before anything else is done
 * with it: the rate limits and the stats count that time, not the moment a busy event loop got to
 * the request.
 */
export function stampArrival(res: Response, now: number): void {
  res.locals.arrivedAt = now;
}

export function arrivedAt(res: Response): number {
  return res.locals.arrivedAt as number;
}

/** Error body of the control endpoints: the project API's `{error: {code, message, details}}`. */
export function sendControlError(res: Response, status: number, code: string, message: string, details?: unknown[]): void {
  res.status(status).json({ error: { code, message, ...(details ? { details } : {}) } });
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(cursor: string): T {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as T;
  } catch {
    throw badRequest('The cursor is invalid.', 'invalid_cursor');
  }
}

type Query = Record<string, unknown>;

export function stringParam(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`'${name}' must be given once.`);
  return v;
}

/**
 * Offset paging as the /v3 collections do it: the first page reads `limit` (1 to `maxLimit`,
 * default 50) and its filters from the query; the next-page cursor carries the offset, the size and
 * the same filters.
 */
export function offsetPage<F>(q: Query, maxLimit: number, filtersOf: (q: Query) => F) {
  const cursor = stringParam(q, 'cursor');
  const c = cursor ? decodeCursor<{ o: number; n: number; f: F }>(cursor) : undefined;
  const offset = c ? c.o : 0;
  const limit = c ? c.n : intParam(q, 'limit', 1, maxLimit, 50);
  const filters = c ? c.f : filtersOf(q);
  return {
    filters,
    slice: <T>(all: readonly T[]): T[] => all.slice(offset, offset + limit),
    /** The `_links` of the page: a next link while `total` has more. */
    links: (path: string, total: number) =>
      offset + limit < total ? { _links: { next: { href: `${path}?cursor=${encodeCursor({ o: offset + limit, n: limit, f: filters })}` } } } : {},
  };
}

export function intParam(q: Query, name: string, min: number, max: number, fallback: number): number {
  const v = stringParam(q, name);
  if (v === undefined || v === '') return fallback;
  if (!/^-?\d+$/.test(v)) throw badRequest(`'${name}' must be an integer from ${min} to ${max}.`);
  const n = Number(v);
  if (n < min || n > max) throw badRequest(`'${name}' must be an integer from ${min} to ${max}.`);
  return n;
}

export function boolParam(q: Query, name: string): boolean {
  const v = stringParam(q, name);
  if (v === undefined || v === '') return false;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw badRequest(`'${name}' must be true or false.`);
}
