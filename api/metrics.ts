import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRICS, RUN_DURATION_BUCKETS, WAIT_BUCKETS, type ProductMetrics } from '../services/metrics';

/**
 * The API's metrics, served at /metrics by prom-client: requests by route template (the Express
 * route pattern, never the raw path) and status, their latency, open connections, profile imports'
 * rows and bytes, the Node.js process, and the product's metrics for what the API itself does (runs
 * it ends, its calls to Constant Contact). One registry per app, so apps in one process stay apart.
 */
export interface ApiMetrics extends ProductMetrics {
  registry: Registry;
  /** Middleware: counts and times every request once it is answered. */
  observeRequests(req: Request, res: Response, next: NextFunction): void;
  /** Runs an import over `source`, counting its bytes and, at the end, its rows. */
  meterImport<T extends ImportCounts>(source: AsyncIterable<Buffer | string>, run: (counted: AsyncIterable<Buffer | string>) => Promise<T>): Promise<T>;
}

interface ImportCounts {
  received: number;
  upserted: number;
  rejected: number;
}

/** A request that reached no route is labelled so, whatever its path. */
export const UNMATCHED_ROUTE = '(unmatched)';

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by method, route template and status', labelNames: ['method', 'route', 'status'], registers });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const open = new Gauge({ name: 'http_open_connections', help: 'Open HTTP connections to the API', registers });
  const importRows = new Counter({ name: 'segment_export_import_rows_total', help: 'Profile import records: received, upserted, rejected', labelNames: ['result'], registers });
  const importBytes = new Counter({ name: 'segment_export_import_bytes_total', help: 'Bytes of profile import bodies read', registers });
  const product = productMetrics(registers);
  const sockets = new WeakSet<Socket>();

  return {
    ...product,
    registry,
    observeRequests(req, res, next) {
      const socket = req.socket;
      if (!sockets.has(socket)) {
        sockets.add(socket);
        open.inc();
        socket.once('close', () => open.dec());
      }
      const stop = latency.startTimer();
      res.once('finish', () => {
        const labels = { method: req.method, route: routeOf(req), status: String(res.statusCode) };
        requests.inc(labels);
        stop(labels);
      });
      next();
    },
    async meterImport(source, run) {
      async function* counted() {
        for await (const chunk of source) {
          importBytes.inc(typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length);
          yield chunk;
        }
      }
      const result = await run(counted());
      importRows.inc({ result: 'received' }, result.received);
      importRows.inc({ result: 'upserted' }, result.upserted);
      importRows.inc({ result: 'rejected' }, result.rejected);
      return result;
    },
  };
}

/** The Express route pattern that answered (`/v1/runs/:id`), never the path with its ids. */
function routeOf(req: Request): string {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  return typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : UNMATCHED_ROUTE;
}

function productMetrics(registers: Registry[]): ProductMetrics {
  const runsEnded = new Counter({ ...METRICS.runsEnded, labelNames: ['status', 'trigger'], registers });
  const runDuration = new Histogram({ ...METRICS.runDuration, labelNames: ['status', 'trigger'], buckets: RUN_DURATION_BUCKETS, registers });
  const contacts = new Counter({ ...METRICS.contacts, labelNames: ['kind'], registers });
  const runAlerts = new Counter({ ...METRICS.runAlerts, labelNames: ['reason'], registers });
  const ccRequests = new Counter({ ...METRICS.ccRequests, labelNames: ['endpoint', 'outcome'], registers });
  const rateLimitWait = new Histogram({ ...METRICS.rateLimitWait, buckets: WAIT_BUCKETS, registers });
  const dailyQuota = new Gauge({ ...METRICS.dailyQuota, labelNames: ['connection_id'], registers });
  const webhookAttempts = new Counter({ ...METRICS.webhookAttempts, labelNames: ['outcome'], registers });
  return {
    runEnded: ({ status, trigger, seconds }) => {
      runsEnded.inc({ status, trigger });
      if (seconds !== null) runDuration.observe({ status, trigger }, seconds);
    },
    contacts: (kind, n) => contacts.inc({ kind }, n),
    runAlert: (reason) => runAlerts.inc({ reason }),
    constantContactRequest: (endpoint, outcome) => ccRequests.inc({ endpoint, outcome }),
    rateLimitWait: (seconds) => rateLimitWait.observe(seconds),
    dailyQuotaLeft: (connectionId, remaining) => dailyQuota.set({ connection_id: connectionId }, remaining),
    webhookAttempt: (outcome) => webhookAttempts.inc({ outcome }),
  };
}
