import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { testTemporal } from '../helpers/temporal';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const temporal = require('../../scripts/temporal.js');

/**
 * What the browser tests drive: `npm start`'s stack (scripts/run.js start: sandbox, worker and API)
 * on free ports with a fresh data directory, on the jest run's Temporal dev server (npm start reuses a
 * server already listening) with a task queue of its own; and Debian's chromium through playwright-core.
 */

const repoRoot = path.resolve(__dirname, '../..');

export interface Stack {
  baseUrl: string;
  sandboxUrl: string;
  keys: { admin: string; contributor: string };
  /** A request to the API with a role's key, for checking what the console did. */
  api<T = JsonBody>(role: 'admin' | 'contributor', method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  output(): string;
  stop(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type JsonBody = any;

export async function startStack(): Promise<Stack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-console-'));
  const [apiPort, sandboxPort] = [await temporal.freePort(), await temporal.freePort()];
  const t = testTemporal();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['API_KEYS', 'SECRETS_KEY', 'CC_CLIENT_ID', 'CC_CLIENT_SECRET', 'DATABASE_URL', 'PUBLIC_BASE_URL', 'CC_API_BASE_URL', 'CC_AUTH_BASE_URL']) delete env[k];
  Object.assign(env, {
    DATA_DIR: dataDir,
    PORT: String(apiPort),
    CC_SANDBOX_PORT: String(sandboxPort),
    TEMPORAL_ADDRESS: t.address,
    TEMPORAL_UI_URL: t.uiUrl,
    TEMPORAL_NAMESPACE: t.namespace,
    TEMPORAL_TASK_QUEUE: `console-${randomBytes(5).toString('hex')}`,
    TEMPORAL_CLI: t.cli,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    NO_COLOR: '1',
  });
  const child = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'run.js'), 'start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(child, () => /^ready$/m.test(output), () => output, 180_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const baseUrl = `http://127.0.0.1:${apiPort}`;
  const keys = JSON.parse(fs.readFileSync(path.join(dataDir, 'api-keys.json'), 'utf8'));
  if (!output.includes(`Console       ${baseUrl}/console/`)) throw new Error(`npm start did not print the console's URL:\n${output}`);
  return {
    baseUrl,
    sandboxUrl: `http://127.0.0.1:${sandboxPort}`,
    keys,
    output: () => output,
    stop,
    async api(role, method, p, body) {
      const res = await fetch(`${baseUrl}${p}`, {
        method,
        headers: { authorization: `Bearer ${keys[role]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text && res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
    },
  };
}

function waitFor(child: ChildProcess, done: () => boolean, output: () => string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (done()) finish();
      else if (child.exitCode !== null) finish(new Error(`npm start exited (${child.exitCode}):\n${output()}`));
    }, 200);
    const deadline = setTimeout(() => finish(new Error(`npm start was not ready within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    function finish(err?: Error) {
      clearInterval(timer);
      clearTimeout(deadline);
      if (err) reject(err);
      else resolve();
    }
  });
}

/**
 * Debian's chromium (CHROMIUM overrides the path); .ci/run installs it when it is missing. Each
 * launch gets a fresh temporary profile directory from playwright, removed when the browser closes.
 */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) throw new Error(`no browser at ${executablePath}: apt-get install chromium (or set CHROMIUM to a Chromium binary)`);
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The stack and the browser, started together; whichever started is stopped when the other fails. */
export async function startStackAndBrowser(): Promise<{ stack: Stack; browser: Browser }> {
  const [stack, browser] = await Promise.allSettled([startStack(), launchBrowser()]);
  if (stack.status === 'fulfilled' && browser.status === 'fulfilled') return { stack: stack.value, browser: browser.value };
  if (stack.status === 'fulfilled') await stack.value.stop();
  if (browser.status === 'fulfilled') await browser.value.close();
  throw stack.status === 'rejected' ? stack.reason : (browser as PromiseRejectedResult).reason;
}

/**
 * Where the screenshots go: CONSOLE_SCREENSHOTS (e.g. docs/screenshots, to refresh the README's
 * pictures), else a temporary directory, so that a test run leaves the working tree as it was.
 */
export function screenshotDir(): string {
  const dir = process.env.CONSOLE_SCREENSHOTS ? path.resolve(repoRoot, process.env.CONSOLE_SCREENSHOTS) : path.join(os.tmpdir(), 'segexp-console-screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** A picture of the page (of all of it with `fullPage`) under `name`.png in the screenshot directory. */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  await page.screenshot({ path: path.join(screenshotDir(), `${name}.png`), ...options });
}

/** Collects what the page reported as broken (uncaught errors), to fail the test on. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

/** The page at a console screen, signed in with a key typed in and submitted from the keyboard. */
export async function signIn(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/console/`);
  const field = page.getByLabel('API key');
  await field.waitFor();
  await page.keyboard.press('Tab');
  if (!(await field.evaluate((el) => el === (globalThis as unknown as BrowserGlobals).document.activeElement))) throw new Error('Tab does not reach the API key field first');
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Opens a screen through the main navigation. */
export async function openScreen(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
  await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
}

/** True when the page needs no horizontal scrolling at the current viewport width. */
export async function fitsWidth(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const g = globalThis as unknown as BrowserGlobals;
    return g.document.documentElement.scrollWidth <= g.innerWidth;
  });
}

/** The page's globals inside evaluate(), which runs in the browser (the tests compile without the DOM library). */
interface BrowserGlobals {
  innerWidth: number;
  document: { activeElement: unknown; documentElement: { scrollWidth: number } };
}
