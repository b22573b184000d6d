import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../../store';
import { call, openMemoryStore, startSessionApp, type SessionApp } from './session-app';

const webDir = path.resolve(__dirname, '../../web');

describe('the console is served by the API at /console, from the repository and node_modules only', () => {
  let store: Store;
  let app: SessionApp;
  beforeAll(async () => {
    store = await openMemoryStore();
    app = await startSessionApp({ store });
  });
  afterAll(async () => {
    await app.close();
    await store.close();
  });

  it('redirects /console to /console/ so that the page loads its modules relative to it', async () => {
    const answer = await call(app.baseUrl, 'GET', '/console');
    expect(answer.status).toBe(301);
    expect(answer.headers.get('location')).toBe('/console/');
  });

  it('serves the page with a policy that allows only its own files and its import map', async () => {
    const answer = await call(app.baseUrl, 'GET', '/console/');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
    expect(answer.body).toBe(fs.readFileSync(path.join(webDir, 'index.html'), 'utf8'));
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(answer.body)![1];
    const hash = createHash('sha256').update(importMap).digest('base64');
    const csp = answer.headers.get('content-security-policy')!;
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves every module the import map and the page name, as JavaScript', async () => {
    const index = fs.readFileSync(path.join(webDir, 'index.html'), 'utf8');
    const imports = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(index)![1]).imports as Record<string, string>;
    const modules = fs.readdirSync(path.join(webDir, 'js')).map((f) => `./js/${f}`);
    for (const url of [...Object.values(imports), ...modules, './console.css', './oauth-return.js']) {
      const answer = await call(app.baseUrl, 'GET', `/console/${url.replace(/^\.\//, '')}`);
      expect([url, answer.status]).toEqual([url, 200]);
      expect([url, answer.headers.get('content-type')]).toEqual([url, expect.stringMatching(url.endsWith('.css') ? /^text\/css/ : /^(text|application)\/javascript/)]);
    }
    // Preact's module resolves 'preact' through the import map, so the vendor files must be the ESM builds.
    expect((await call(app.baseUrl, 'GET', '/console/vendor/hooks.mjs')).body).toMatch(/from\s*"preact"/);
  });

  it('serves nothing else: no other node_modules file, no file outside web/', async () => {
    for (const p of ['/console/vendor/constructor', '/console/vendor/..%2Fpackage.json', '/console/..%2Fpackage.json', '/console/%2e%2e/package.json', '/console/.hidden', '/console/vendor/preact.js']) {
      const answer = await call(app.baseUrl, 'GET', p);
      expect([p, answer.status]).toEqual([p, 404]);
    }
  });
});
