import http from 'node:http';
import type { Socket } from 'node:net';
import type { ApiLimits } from '../common/config';
import { createExpressServer, type ExpressServer } from './express-server';

/**
 * The HTTP server of the API and what a client may hold of it: headers within headersTimeoutMs;
 * every request whole within streamTimeoutMs (Node's requestTimeout, the backstop: the body
 * watchdog holds ordinary routes to requestTimeoutMs and streaming ones to a minimum rate);
 * keepAliveTimeoutMs between requests; at most maxConnections sockets (more are dropped); and a
 * socket on which nothing moves for idleTimeoutMs is closed when the API is waiting for the client
 * (its body, or to read our answer), never while the API itself is still working on the answer.
 */
export function createApiServer(limits: ApiLimits): ExpressServer {
  const made = createApiServerWithoutLimits();
  applyLimits(made.server, limits);
  return made;
}

/** The API's server before its limits are known (a test listens first, to learn its port); `applyLimits` gives them. */
export function createApiServerWithoutLimits(): ExpressServer {
  return createExpressServer({ connectionsCheckingInterval: CONNECTIONS_CHECK_MS });
}

/** Node checks header and request deadlines on this interval (30 s by default); set at creation. */
const CONNECTIONS_CHECK_MS = 1000;

/** For a server made by `createApiServerWithoutLimits`. */
export function applyLimits(server: http.Server, limits: ApiLimits): http.Server {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.streamTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.timeout = limits.idleTimeoutMs;

  const current = new WeakMap<Socket, http.ServerResponse>();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => current.set(req.socket, res));
  // With a listener here Node leaves the decision to us instead of destroying the socket.
  server.on('timeout', (socket: Socket) => {
    const res = current.get(socket);
    if (res && !res.writableEnded && apiIsWorking(res, socket)) socket.setTimeout(limits.idleTimeoutMs);
    else socket.destroy();
  });
  return server;
}

/** The request arrived (or its unread data waits for the handler) and the client has read all we wrote. */
function apiIsWorking(res: http.ServerResponse, socket: Socket): boolean {
  const waitingForHandler = res.req.complete || res.req.readableLength > 0;
  return waitingForHandler && socket.writableLength === 0;
}
