import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { isPrivateAddress, urlProblem } from '../../services/webhooks/address';
import { createWebhookSender, type WebhookPost } from '../../services/webhooks/deliver';
import { signatureHeader, verifySignature } from '../../services/webhooks/signature';

/** Signing, the address guard and one POST, against an HTTP server in this process. */

const secret = 'whsec_unit-test-secret-0123456789';
const body = JSON.stringify({ id: 'evt_1', type: 'run.succeeded', runId: 'run_1' });

describe('webhook signatures', () => {
  const now = 1_900_000_000;

  it('verify a signature made over the timestamp and the body', () => {
    const header = signatureHeader(secret, body, now);
    expect(header).toMatch(/^t=1900000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature(header, body, secret, { nowSeconds: now + 10 })).toBe(true);
  });

  it('refuse another body, another secret, a changed timestamp or one outside the replay window', () => {
    const header = signatureHeader(secret, body, now);
    expect(verifySignature(header, body.replace('run_1', 'run_2'), secret, { nowSeconds: now })).toBe(false);
    expect(verifySignature(header, body, `${secret}x`, { nowSeconds: now })).toBe(false);
    expect(verifySignature(header.replace(`t=${now}`, `t=${now + 1}`), body, secret, { nowSeconds: now })).toBe(false);
    expect(verifySignature(header, body, secret, { nowSeconds: now + 301 })).toBe(false);
    expect(verifySignature(undefined, body, secret, { nowSeconds: now })).toBe(false);
    expect(verifySignature('t=abc,v1=zz', body, secret, { nowSeconds: now })).toBe(false);
  });

  it("the README's few lines of Node verify a real signature and refuse a tampered one", () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Verifying a webhook'));
    const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toBeDefined();
    const verifyWebhook = new Function('require', `${code}\nreturn verifyWebhook;`)(require) as (raw: string, header: string, secret: string) => boolean;
    const header = signatureHeader(secret, body, Math.floor(Date.now() / 1000));
    expect(verifyWebhook(body, header, secret)).toBe(true);
    expect(verifyWebhook(`${body} `, header, secret)).toBe(false);
    expect(verifyWebhook(body, signatureHeader(secret, body, Math.floor(Date.now() / 1000) - 600), secret)).toBe(false);
  });
});

describe('webhook addresses', () => {
  it.each([
    ['127.0.0.1', true], ['10.1.2.3', true], ['172.20.0.1', true], ['192.168.1.1', true], ['169.254.169.254', true], ['100.64.0.1', true],
    ['0.0.0.0', true], ['224.0.0.1', true], ['::1', true], ['fe80::1', true], ['fd00::1', true], ['::ffff:127.0.0.1', true], ['::ffff:7f00:1', true], ['::ffff:10.0.0.1', true],
    ['93.184.216.34', false], ['8.8.8.8', false], ['2606:4700:4700::1111', false], ['::ffff:8.8.8.8', false], ['::ffff:808:808', false],
  ])('%s is private: %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });

  it('take http and https URLs only, without credentials', () => {
    expect(urlProblem('https://hooks.example.com/segment-export')).toBeUndefined();
    expect(urlProblem('http://hooks.example.com:8080/x?y=1')).toBeUndefined();
    expect(urlProblem('ftp://hooks.example.com/')).toMatch(/http/);
    expect(urlProblem('https://user:pass@hooks.example.com/')).toMatch(/credentials/);
    expect(urlProblem('not a url')).toBe('not a URL');
  });
});

describe('webhook POST', () => {
  let server: http.Server;
  let port: number;
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  let answer = 200;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body: text });
        if (answer === 302) res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
        else res.writeHead(answer);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    received.length = 0;
    answer = 200;
  });

  const post = (url: string): WebhookPost => ({ url, secret, body, eventType: 'run.succeeded', eventId: 'evt_1', deliveryId: 'dlv_1', now: new Date() });

  it('POST the body with a signature the receiver can verify', async () => {
    const sender = createWebhookSender({ allowPrivate: true });
    try {
      const result = await sender.send(post(`http://127.0.0.1:${port}/hook`));
      expect(result).toMatchObject({ statusCode: 200, error: null, refused: false });
      expect(received).toHaveLength(1);
      expect(received[0].body).toBe(body);
      expect(received[0].headers).toMatchObject({ 'content-type': 'application/json', 'x-segment-export-event': 'run.succeeded', 'x-segment-export-event-id': 'evt_1' });
      expect(verifySignature(received[0].headers['x-segment-export-signature'] as string, received[0].body, secret)).toBe(true);
    } finally {
      await sender.close();
    }
  });

  it('report a non-2xx answer, and do not follow a redirect', async () => {
    const sender = createWebhookSender({ allowPrivate: true });
    try {
      answer = 500;
      expect(await sender.send(post(`http://127.0.0.1:${port}/hook`))).toMatchObject({ statusCode: 500, error: 'the endpoint answered 500', refused: false });
      answer = 302;
      expect(await sender.send(post(`http://127.0.0.1:${port}/hook`))).toMatchObject({ statusCode: 302, refused: false });
      expect(received).toHaveLength(2);
    } finally {
      await sender.close();
    }
  });

  it('refuse a loopback address when private addresses are not allowed, without connecting', async () => {
    const sender = createWebhookSender({ allowPrivate: false });
    try {
      const result = await sender.send(post(`http://127.0.0.1:${port}/hook`));
      expect(result).toMatchObject({ statusCode: null, refused: true });
      expect(result.error).toMatch(/127\.0\.0\.1.*private/);
      expect(received).toHaveLength(0);
    } finally {
      await sender.close();
    }
  });

  it('refuse a name that resolves to a private address at delivery time (DNS rebinding), checking the address it connects to', async () => {
    // At registration the name resolved to a public address; now it resolves to loopback, where the receiver is.
    const sender = createWebhookSender({ allowPrivate: false, lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
    try {
      const result = await sender.send(post(`http://hooks.example.com:${port}/hook`));
      expect(result).toMatchObject({ statusCode: null, refused: true });
      expect(result.error).toMatch(/hooks\.example\.com resolves to 127\.0\.0\.1/);
      expect(received).toHaveLength(0);
    } finally {
      await sender.close();
    }
  });

  it('report a receiver that does not answer as no answer, not refused', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const sender = createWebhookSender({ allowPrivate: true });
    try {
      expect(await sender.send(post(`http://127.0.0.1:${closedPort}/hook`))).toMatchObject({ statusCode: null, refused: false, error: 'no answer (ECONNREFUSED)' });
    } finally {
      await sender.close();
    }
  });
});
