import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response, type Router } from 'express';

/**
 * The console's files: the page and its ES modules from `web/` in the repository, and the UI
 * library (Preact with htm) from node_modules. No build step and no network: the browser loads
 * exactly these files, resolving the bare module names through the page's import map.
 */

export const CONSOLE_PATH = '/console';

/** The one place that names the library files the import map in web/index.html points to. */
const VENDOR = new Map<string, () => string>([
  ['preact.mjs', () => require.resolve('preact')],
  ['hooks.mjs', () => require.resolve('preact/hooks')],
  ['htm.mjs', () => path.join(path.dirname(require.resolve('htm')), 'htm.mjs')],
]);

/** The repository root (the folder of package.json), from the source tree or from dist/. */
function packageRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const WEB_DIR = path.join(packageRoot(), 'web');

/** Inline scripts the page may run: only the import map, by its hash. */
function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`);
}

export function consoleAssets(): Router {
  const index = fs.readFileSync(path.join(WEB_DIR, 'index.html'), 'utf8');
  const csp = [
    "default-src 'none'",
    `script-src 'self' ${inlineScriptHashes(index).join(' ')}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  const headers = (res: Response) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'same-origin');
    // Revalidated on every load (ETag): a new release is picked up at once.
    res.setHeader('Cache-Control', 'no-cache');
  };

  const router = express.Router({ strict: true });
  // Relative URLs in the page (./js/…, ./vendor/…) resolve against /console/.
  router.get('/', (req: Request, res: Response) => {
    if (!req.originalUrl.split('?')[0].endsWith('/')) return res.redirect(301, `${req.baseUrl}/`);
    headers(res);
    res.type('html').send(index);
  });
  router.get('/vendor/:file', (req: Request, res: Response, next) => {
    const file = VENDOR.get(req.params.file as string);
    if (!file) return next();
    headers(res);
    res.type('text/javascript').sendFile(file());
  });
  router.use(express.static(WEB_DIR, { index: false, redirect: false, dotfiles: 'ignore', setHeaders: headers }));
  return router;
}
