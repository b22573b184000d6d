import { Agent, request } from 'undici';
import type { z } from 'zod';
import type { Logger } from '../common/logger';
import { networkError, type ErrorContext } from './errors';
import { ConstantContactError, requestOutcome, type ConstantContactObserver } from './types';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/** Timeouts of one request (defaults: connect 10 s, headers 30 s, body 60 s); each ends as network_error. */
export interface Timeouts {
  connectMs?: number;
  headersMs?: number;
  bodyMs?: number;
}

export type StreamedResponse = Awaited<ReturnType<typeof request>>;

/**
 * HTTP to Constant Contact over one connection pool. Sockets stay open between the evenly paced
 * calls; timeouts bound every phase of a request so that a stalled one ends as a retryable
 * network_error (and well within a token refresh lease). A failure to reach the server is a
 * network_error; an answer of any status is returned as it is.
 */
export function createTransport(logger: Logger, timeouts: Timeouts = {}, observer: ConstantContactObserver = {}) {
  const observe = (ctx: ErrorContext, status: number | undefined) =>
    observer.request?.({ endpoint: ctx.endpoint ?? 'other', outcome: requestOutcome(status), connectionId: ctx.connectionId });

  const agent = new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    connections: 32,
    connect: { timeout: timeouts.connectMs ?? 10_000 },
    headersTimeout: timeouts.headersMs ?? 30_000,
    bodyTimeout: timeouts.bodyMs ?? 60_000,
  });

  /** Sends a request and reads the whole answer. */
  async function send(ctx: ErrorContext, url: URL, init: HttpRequest): Promise<HttpAnswer> {
    const started = Date.now();
    try {
      const signal = init.timeoutMs ? AbortSignal.timeout(init.timeoutMs) : undefined;
      const res = await request(url, { method: init.method, headers: init.headers, body: init.body, dispatcher: agent, signal });
      const text = await res.body.text();
      observe(ctx, res.statusCode);
      logger.debug({ method: init.method, path: url.pathname, status: res.statusCode, ms: Date.now() - started, connectionId: ctx.connectionId }, 'constant contact call');
      return { status: res.statusCode, headers: res.headers, text };
    } catch (err) {
      observe(ctx, undefined);
      logger.debug({ method: init.method, path: url.pathname, ms: Date.now() - started, connectionId: ctx.connectionId, code: (err as { code?: string }).code }, 'constant contact call failed');
      throw networkError(ctx, err);
    }
  }

  /** A GET whose body the caller streams (a contact export's file). */
  async function open(ctx: ErrorContext, url: URL, headers: Record<string, string>): Promise<StreamedResponse> {
    try {
      const res = await request(url, { method: 'GET', headers, dispatcher: agent });
      observe(ctx, res.statusCode);
      return res;
    } catch (err) {
      observe(ctx, undefined);
      throw networkError(ctx, err);
    }
  }

  return { send, open, close: () => agent.close() };
}

export type Transport = ReturnType<typeof createTransport>;

/** The JSON body of an answer checked against `schema`; anything else is invalid_response. */
export function parseBody<T>(ctx: ErrorContext, answer: HttpAnswer, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    throw new ConstantContactError('invalid_response', `${ctx.what}: the answer (${answer.status}) is not JSON`, false, undefined, answer.status);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConstantContactError('invalid_response', `${ctx.what}: unexpected answer (${where})`, false, undefined, answer.status);
  }
  return parsed.data;
}
