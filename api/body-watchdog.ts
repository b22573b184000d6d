import type { NextFunction, Request, Response } from 'express';
import type { ApiLimits } from '../common/config';
import { ApiError, sendError } from './errors';

/**
 * How long the API waits for a request body. Every request must arrive whole within
 * `requestTimeoutMs` of its start. A route that streams its body for long (the profile import)
 * switches to a minimum rate instead (`streamBody`): in every `streamWindowMs` spent waiting for the
 * client, at least `streamMinBytes` must arrive. Time in which the body waits for the API (the
 * handler is busy with what it read, so data sits unread) does not count against the client. A
 * client that breaks the rule gets 408 `request_timeout` and its connection is closed.
 *
 * Node's own requestTimeout (api/listener.ts) stays the backstop for every request.
 */

interface BodyWatch {
  /** From now on the body is held to the minimum rate instead of the whole-request deadline. */
  stream(): void;
}

export function watchBodies(limits: ApiLimits) {
  return (req: Request, res: Response, next: NextFunction) => {
    res.locals.bodyWatch = watch(req, res, limits);
    next();
  };
}

/** Called by a route that reads its body as a stream, before it reads. */
export function streamBody(res: Response): void {
  (res.locals.bodyWatch as BodyWatch | undefined)?.stream();
}

function watch(req: Request, res: Response, limits: ApiLimits): BodyWatch {
  let deadline: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const stop = () => {
    clearTimeout(deadline);
    clearInterval(ticker);
  };
  res.once('finish', stop);
  res.once('close', stop);
  if (!req.complete) {
    deadline = setTimeout(() => {
      if (!req.complete) cut(req, res, `the request did not arrive within ${limits.requestTimeoutMs / 1000} s`);
    }, limits.requestTimeoutMs);
    deadline.unref();
  }

  return {
    stream() {
      clearTimeout(deadline);
      if (req.complete) return;
      const tickMs = Math.max(10, Math.min(1000, Math.floor(limits.streamWindowMs / 10)));
      let waitedMs = 0;
      let bytes = 0;
      let seen = req.socket.bytesRead;
      ticker = setInterval(() => {
        if (req.complete) return stop();
        const read = req.socket.bytesRead;
        // Data waiting unread means the API is the slow side: this tick is not the client's.
        if (req.readableLength === 0) {
          waitedMs += tickMs;
          bytes += read - seen;
        }
        seen = read;
        if (waitedMs < limits.streamWindowMs) return;
        if (bytes < limits.streamMinBytes) {
          cut(req, res, `the body arrives slower than ${limits.streamMinBytes} bytes in ${limits.streamWindowMs / 1000} s`);
          return stop();
        }
        waitedMs = 0;
        bytes = 0;
      }, tickMs);
      ticker.unref();
    },
  };
}

/**
 * Answers 408 when nothing was answered yet, and closes the connection either way. The request is
 * destroyed with the error too: whatever still reads its body (an import holding the one-import
 * lease) stops with it, where an iterator over a request whose socket is gone would wait forever.
 */
function cut(req: Request, res: Response, message: string): void {
  res.locals.cut = true;
  const error = new ApiError(408, 'request_timeout', message);
  const close = () => {
    req.destroy(error);
    req.socket.destroy();
  };
  if (res.headersSent) return close();
  res.once('finish', close);
  sendError(res, error, { close: true });
}
