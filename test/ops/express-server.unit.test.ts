import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createExpressServer } from '../../api/express-server';

/** Listens on a free port, calls `GET path` once, closes; answers the status and the JSON body. */
async function getOnce(server: http.Server, path: string): Promise<{ status: number; body: unknown }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, { headers: { 'x-probe': 'yes' } });
    return { status: res.status, body: await res.json() };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('an HTTP server made for an Express app', () => {
  it('creates each request and response with the prototypes Express gives them, so Express changes neither', async () => {
    const app = express();
    const made: { req?: object; res?: object } = {};
    const { server, serve } = createExpressServer();
    // Registered before the app: sees the objects as Node made them, before Express handles them.
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      made.req = Object.getPrototypeOf(req) as object;
      made.res = Object.getPrototypeOf(res) as object;
    });
    app.get('/probe', (req, res) => {
      res.locals.seen = true;
      res.json({
        requestUnchanged: Object.getPrototypeOf(req) === made.req,
        responseUnchanged: Object.getPrototypeOf(res) === made.res,
        sameApp: req.app === app,
        header: req.get('x-probe'),
        locals: res.locals.seen,
      });
    });
    serve(app);

    expect(await getOnce(server, '/probe')).toEqual({
      status: 200,
      body: { requestUnchanged: true, responseUnchanged: true, sameApp: true, header: 'yes', locals: true },
    });
  });

  it('answers with the app’s own handlers for errors and unknown routes', async () => {
    const app = express();
    app.get('/fails', () => {
      throw new Error('boom');
    });
    app.use((_req, res) => res.status(404).json({ error: 'none here' }));
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => res.status(500).json({ error: 'failed' }));
    const { server, serve } = createExpressServer();
    serve(app);

    expect(await getOnce(server, '/nothing')).toEqual({ status: 404, body: { error: 'none here' } });
    expect(await getOnce(server, '/fails')).toEqual({ status: 500, body: { error: 'failed' } });
  });

  it('refuses a second app, leaving the first one served', async () => {
    const first = express();
    first.get('/which', (_req, res) => res.json('first'));
    const second = express();
    second.get('/which', (_req, res) => res.json('second'));
    const { server, serve } = createExpressServer();
    serve(first);

    expect(() => serve(second)).toThrow('this server already serves an app');
    expect(await getOnce(server, '/which')).toEqual({ status: 200, body: 'first' });
  });
});
