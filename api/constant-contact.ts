import type { Response } from 'express';
import type { ConstantContactErrorCode } from '../constant-contact/types';
import type { Connection } from '../store/types';
import { ApiError } from './errors';

/**
 * The API's few calls to Constant Contact outside runs (an account's lists and custom fields, the
 * checks when an export is saved, the OAuth code exchange), and their typed failures as API errors.
 */

/** 422 `connection_not_connected` unless the connection is authorized. */
export function assertConnected(connection: Connection): void {
  if (connection.status !== 'connected') {
    throw connection.status === 'needs-reauthorization'
      ? needsReauthorization(connection)
      : new ApiError(422, 'connection_not_connected', `connection ${connection.id} is not authorized yet: an admin opens its authorizeUrl`);
  }
}

const needsReauthorization = (connection: Connection) =>
  new ApiError(
    422,
    'connection_not_connected',
    `connection ${connection.id} needs re-authorization: an admin opens the URL from POST /v1/connections/${connection.id}/reauthorize`,
  );

/** The code of a Constant Contact client error; undefined for any other error. */
export function constantContactErrorCode(err: unknown): ConstantContactErrorCode | undefined {
  const e = err as { name?: unknown; code?: unknown } | null;
  return e && e.name === 'ConstantContactError' && typeof e.code === 'string' ? (e.code as ConstantContactErrorCode) : undefined;
}

export const isRetryable = (err: unknown) => (err as { retryable?: unknown }).retryable === true;

/**
 * Calls Constant Contact for a request and turns its typed failures into API errors: a connection
 * that lost its authorization is 422 `connection_not_connected`; throttling 503 with Retry-After;
 * other failures 502. `onNotFound` maps a 404 of Constant Contact (e.g. 422 `list_not_found`).
 */
export async function callConstantContact<T>(res: Response, connection: Connection, call: () => Promise<T>, onNotFound?: () => ApiError): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const code = constantContactErrorCode(err);
    if (!code) throw err;
    switch (code) {
      case 'not_found':
        if (onNotFound) throw onNotFound();
        break;
      case 'needs_reauthorization':
      case 'not_connected':
        throw needsReauthorization(connection);
      case 'throttled':
      case 'daily_quota_exhausted': {
        const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs;
        if (retryAfterMs && retryAfterMs > 0) res.setHeader('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
        throw new ApiError(503, 'constant_contact_busy', 'the Constant Contact rate limit is reached; try again later');
      }
    }
    throw new ApiError(502, 'constant_contact_error', `Constant Contact did not complete the request (${code}); try again later`);
  }
}
