import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { apiRouter } from './api';
import { controlRouter } from './control';
import { noFaults, type SandboxContext } from './context';
import { sendControlError, stampArrival } from './http';
import { ImportThread } from './import-thread';
import { OAuthStore, oauthRouter } from './oauth';
import { resolveOptions, type SandboxOptions } from './options';
import { RollingSecond } from './rate-limit';
import { SandboxState } from './state';

export { DEFAULT_ACCOUNT_ID, DEFAULT_LIST_ID, DEFAULT_LIST_NAME, type SandboxOptions } from './options';

export interface SandboxAddress {
  port: number;
  baseUrl: string;
  /** baseUrl + '/v3': CC_API_BASE_URL. */
  apiBaseUrl: string;
  /** baseUrl + '/oauth2/default/v1': CC_AUTH_BASE_URL. */
  authBaseUrl: string;
}

export interface Sandbox {
  app: Express;
  listen(port?: number, host?: string): Promise<SandboxAddress>;
  close(): Promise<void>;
  state: SandboxState;
  oauth: OAuthStore;
  context: SandboxContext;
  options: SandboxOptions;
}

/**
 * A local stand-in for Constant Contact V3 (sandbox/README.md): OAuth under
 * /oauth2/default/v1, the API under /v3, control endpoints under /__sandbox. State is in memory.
 */
export function createSandbox(overrides: Partial<SandboxOptions> = {}): Sandbox {
  const options = resolveOptions(overrides);
  const state = new SandboxState(options);
  const oauth = new OAuthStore(options);
  const context: SandboxContext = {
    options,
    state,
    oauth,
    limiters: new Map(),
    arrivals: new RollingSecond(),
    faults: noFaults(),
    importThread: new ImportThread(options.importParseMinMs),
    limits: {
      ratePerSecond: options.ratePerSecond,
      ratePerDay: options.ratePerDay,
      maxQueuedActivities: options.maxQueuedActivities,
      tokenRatePerSecond: options.tokenRatePerSecond,
      tokenBurst: options.tokenBurst,
    },
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // A request is stamped first, as it arrives; then the activities whose time has come are applied
  // before it sees the account (a large import yields to the event loop as it goes, see settle()).
  app.use((_req, res, next) => {
    stampArrival(res, options.now());
    const applying = state.settle();
    if (applying) applying.then(() => next(), next);
    else next();
  });
  app.use('/oauth2/default/v1', (req, _res, next) => {
    state.stats.oauthRequests++;
    const key = `${req.method} /oauth2/default/v1${req.path}`;
    if (req.path === '/authorize' || req.path === '/token' || req.path === '/revoke') state.stats.byRoute[key] = (state.stats.byRoute[key] ?? 0) + 1;
    next();
  });
  app.use('/oauth2/default/v1', oauthRouter(options, oauth, state));
  app.use('/v3', apiRouter(context));
  app.use('/__sandbox', controlRouter(context));
  app.get('/', (_req, res) => {
    res.json({ service: 'constant-contact-sandbox', api: '/v3', auth: '/oauth2/default/v1', control: '/__sandbox' });
  });
  app.use((_req, res) => sendControlError(res, 404, 'not_found', 'Not found.'));

  let server: http.Server | undefined;

  return {
    app,
    state,
    oauth,
    context,
    options,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        const s = http.createServer(app);
        // Longer than any client's idle keep-alive (undici: 4 s), so a client never reuses a socket
        // the sandbox is closing at that very moment (a spurious ECONNRESET).
        s.keepAliveTimeout = 65_000;
        s.headersTimeout = 66_000;
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          server = s;
          const actual = (s.address() as AddressInfo).port;
          const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
          const baseUrl = `http://${urlHost}:${actual}`;
          resolve({ port: actual, baseUrl, apiBaseUrl: `${baseUrl}/v3`, authBaseUrl: `${baseUrl}/oauth2/default/v1` });
        });
      });
    },
    async close() {
      const s = server;
      server = undefined;
      if (s) {
        await new Promise<void>((resolve, reject) => {
          s.close((err) => (err ? reject(err) : resolve()));
          s.closeAllConnections();
        });
      }
      await context.importThread.close();
    },
  };
}
