import type { Response } from 'express';
import { DomainError, type DomainErrorKind } from '../common/errors';

/**
 * HTTP errors of the API, and the one place where every error becomes an HTTP answer: the error
 * middleware (api/app.ts) calls `toApiError`. Routes throw ApiError for what only HTTP knows (401,
 * 403, 415, a 503 of Temporal) and the domain errors of the store and the services pass through
 * here unchanged in code, message and details.
 */
export class ApiError extends Error {
  /**
   * Set when the request's change was saved before this error (e.g. a Temporal Schedule could not
   * follow): what was saved, so the change still reaches the audit log.
   */
  saved?: { id: string };

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, details?: unknown[]) => new ApiError(400, 'validation_failed', message, details);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, details?: unknown[]) => new ApiError(409, code, message, details);
export const unprocessable = (code: string, message: string, details?: unknown[]) => new ApiError(422, code, message, details);
export const temporalUnavailable = (message: string) => new ApiError(503, 'temporal_unavailable', message);

const STATUS_OF: Record<DomainErrorKind, number> = { invalid: 400, not_found: 404, conflict: 409, unprocessable: 422, unavailable: 503 };

interface BodyParserError extends Error {
  type?: string;
  status?: number;
}

/** Any error as the API answers it; what it does not recognise is a 500 `internal_error`. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof DomainError) return new ApiError(STATUS_OF[err.kind], err.code, err.message, err.details);
  // The router could not percent-decode a path parameter (e.g. /v1/profiles/%E0%A4%A).
  if (err instanceof URIError) {
    return new ApiError(400, 'validation_failed', 'the request path is not valid percent-encoded UTF-8', [{ path: ['params'], message: 'not valid percent-encoding' }]);
  }
  switch ((err as BodyParserError)?.type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'invalid_json', 'the body is not valid JSON');
    case 'entity.too.large':
      return new ApiError(413, 'payload_too_large', 'the body is larger than this route accepts');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'unsupported_media_type', 'unsupported body encoding');
    case 'request.aborted':
      return new ApiError(400, 'request_aborted', 'the request was aborted');
  }
  return new ApiError(500, 'internal_error', 'something went wrong on our side; the request id identifies it in the logs');
}

/**
 * Writes the error body every error gets. `close` ends the connection after the answer: for
 * answers sent before the request body was read (a refused caller, a slow client), so that Node
 * does not go on reading a body nobody wants.
 */
export function sendError(res: Response, error: ApiError, options: { close?: boolean } = {}): void {
  if (options.close) res.setHeader('Connection', 'close');
  res.status(error.status).json({
    error: {
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
      requestId: res.locals.requestId as string,
    },
  });
}
