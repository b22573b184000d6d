import http from 'node:http';
import type { Express, Request, Response } from 'express';

/**
 * An HTTP server whose requests and responses are created with an Express app's own prototypes.
 *
 * Express gives every request and response the app's prototypes as they arrive
 * (`Object.setPrototypeOf`). Changing the prototype of an object that already exists moves V8 off
 * its fast paths for everything that touches that object afterwards, in Express and in Node's own
 * HTTP code alike; on a small answer that costs several times the work of the answer itself. Made
 * with those prototypes from the start, Express's own call changes nothing.
 *
 * `serve(app)` may come after the server listens (a test needs the port to configure the app).
 */
export interface ExpressServer {
  server: http.Server;
  serve(app: Express): void;
}

export function createExpressServer(options: http.ServerOptions = {}): ExpressServer {
  class AppRequest extends http.IncomingMessage {}
  class AppResponse extends http.ServerResponse {}
  const server = http.createServer({ ...options, IncomingMessage: AppRequest, ServerResponse: AppResponse });
  let served = false;
  return {
    server,
    serve(app) {
      if (served) throw new Error('this server already serves an app');
      served = true;
      // The classes' prototypes take the app's place in the chain; the app's methods and `app` stay reachable.
      Object.setPrototypeOf(AppRequest.prototype, app.request);
      Object.setPrototypeOf(AppResponse.prototype, app.response);
      app.request = AppRequest.prototype as unknown as Request;
      app.response = AppResponse.prototype as unknown as Response;
      server.on('request', app);
    },
  };
}
