#!/usr/bin/env node
'use strict';
/**
 * The one entry point behind the npm scripts. Plain CommonJS without dependencies, so it runs on a
 * fresh clone before `npm install`.
 *
 *   node scripts/run.js start      dev server + sandbox + worker + API; Ctrl-C stops them all
 *   node scripts/run.js test [...] the whole jest suite; ends with `Tests: N passed, N failed`
 *   node scripts/run.js worker|api|sandbox   one process alone (scale out, replace a crashed one)
 *   node scripts/run.js temporal   the Temporal dev server in the foreground
 *   node scripts/run.js bench|demo [...]     delegate to dist/bench/main.js, dist/scripts/demo.js
 */
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const crypto = require('node:crypto');
const http = require('node:http');
const { spawn, spawnSync } = require('node:child_process');
const temporal = require('./temporal.js');

const ROOT = path.resolve(__dirname, '..');
/** Folders tsc compiles (tsconfig.build.json); a change under them means dist is stale. */
const SOURCE_DIRS = ['api', 'workflows', 'activities', 'worker', 'store', 'constant-contact', 'sandbox', 'common', 'bench', 'scripts'];
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
const ENTRY = {
  api: 'dist/api/main.js',
  worker: 'dist/worker/main.js',
  sandbox: 'dist/sandbox/main.js',
  bench: 'dist/bench/main.js',
  demo: 'dist/scripts/demo.js',
};
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s) => (useColor ? `\x1b[1m${s}\x1b[0m` : s);

function say(msg) {
  process.stdout.write(`${msg}\n`);
}
function warn(msg) {
  process.stderr.write(`[run] ${msg}\n`);
}

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// Preparation: dependencies, build, data directory, generated secrets

function runSync(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function npmCommand() {
  // Under `npm run`, npm tells us which npm is running.
  if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) {
    return [process.execPath, [process.env.npm_execpath]];
  }
  return ['npm', []];
}

function ensureDependencies() {
  if (fs.existsSync(path.join(ROOT, 'node_modules', '.package-lock.json')) || fs.existsSync(path.join(ROOT, 'node_modules', 'typescript'))) {
    return;
  }
  const [npm, pre] = npmCommand();
  const hasLock = fs.existsSync(path.join(ROOT, 'package-lock.json'));
  say('Installing dependencies (node_modules is missing)...');
  if (hasLock && runSync(npm, [...pre, 'ci', '--no-audit', '--no-fund']) === 0) return;
  if (hasLock) warn('npm ci failed; trying npm install');
  if (runSync(npm, [...pre, 'install', '--no-audit', '--no-fund']) !== 0) throw new Error('npm install failed');
}

function newestMtime(dir) {
  let newest = 0;
  let stat;
  try {
    stat = fs.statSync(dir);
  } catch {
    return 0;
  }
  newest = stat.mtimeMs; // a deleted or renamed file changes its directory's mtime
  if (!stat.isDirectory()) return newest;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (/\.(ts|json)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function buildIsStale() {
  const stamp = path.join(ROOT, 'dist', '.build-stamp');
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    return true;
  }
  const inputs = [...SOURCE_DIRS, ...BUILD_INPUTS].map((p) => newestMtime(path.join(ROOT, p)));
  return Math.max(...inputs) > built;
}

/**
 * A lock directory so that two commands started together (say `npm start` and `npm test`) do not
 * run tsc into the same dist/ at once. A lock whose owner is gone is taken over.
 */
function withBuildLock(fn) {
  const lock = path.join(ROOT, 'dist', '.build-lock');
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 180000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const owner = Number(readIfExists(path.join(lock, 'pid')));
      if ((owner && !temporal.pidAlive(owner)) || Date.now() > deadline) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250); // another build is running
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Compiles TypeScript to dist/ when dist is missing or older than the sources. Returns true if OK. */
function ensureBuild({ force = false } = {}) {
  if (!force && !buildIsStale()) return true;
  return withBuildLock(() => (force || buildIsStale() ? build() : true));
}

function build() {
  const started = new Date();
  say('Building (tsc -p tsconfig.build.json)...');
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const code = runSync(process.execPath, [tsc, '-p', 'tsconfig.build.json']);
  if (code !== 0) return false;
  const stamp = path.join(ROOT, 'dist', '.build-stamp');
  fs.mkdirSync(path.dirname(stamp), { recursive: true });
  fs.writeFileSync(stamp, `${started.toISOString()}\n`);
  // The stamp carries the time the build started: a file saved during the build is newer.
  fs.utimesSync(stamp, started, started);
  return true;
}

function dataDir() {
  return path.resolve(process.env.DATA_DIR || '.data');
}

function writeSecretFile(file, content) {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function readIfExists(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * API keys when API_KEYS is unset: one admin and one contributor key, generated once and kept in
 * <DATA_DIR>/api-keys.json (mode 0600). Returns {apiKeys, generated: {admin, contributor} | null}.
 */
function ensureApiKeys(dir) {
  if (process.env.API_KEYS) return { apiKeys: process.env.API_KEYS, stored: null, file: null };
  const file = path.join(dir, 'api-keys.json');
  let keys = null;
  const raw = readIfExists(file);
  if (raw) {
    try {
      const parsed = JSON.parse(raw);
      if (typeof parsed.admin === 'string' && parsed.admin.length >= 16 && typeof parsed.contributor === 'string' && parsed.contributor.length >= 16) {
        keys = { admin: parsed.admin, contributor: parsed.contributor };
      }
    } catch {
      /* regenerate below */
    }
    if (!keys) warn(`${file} is not valid; generating new API keys`);
  }
  let created = false;
  if (!keys) {
    keys = { admin: `adm_${crypto.randomBytes(24).toString('base64url')}`, contributor: `ctb_${crypto.randomBytes(24).toString('base64url')}` };
    writeSecretFile(file, `${JSON.stringify(keys, null, 2)}\n`);
    created = true;
  } else {
    fs.chmodSync(file, 0o600);
  }
  return { apiKeys: `admin:${keys.admin},contributor:${keys.contributor}`, stored: keys, file, created };
}

/** SECRETS_KEY when unset: 32 random bytes as hex, generated once into <DATA_DIR>/secrets-key (0600). */
function ensureSecretsKey(dir) {
  if (process.env.SECRETS_KEY) return { secretsKey: process.env.SECRETS_KEY, file: null };
  const file = path.join(dir, 'secrets-key');
  const raw = (readIfExists(file) || '').trim();
  if (/^[0-9a-fA-F]{64}$/.test(raw)) {
    fs.chmodSync(file, 0o600);
    return { secretsKey: raw, file, created: false };
  }
  if (raw) throw new Error(`${file} does not hold 64 hex characters; fix or delete it (tokens encrypted with it become unreadable)`);
  const key = crypto.randomBytes(32).toString('hex');
  writeSecretFile(file, `${key}\n`);
  return { secretsKey: key, file, created: true };
}

/** The environment for the app processes: the caller's, plus DATA_DIR, API_KEYS and SECRETS_KEY. */
function appEnvironment() {
  const dir = dataDir();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keys = ensureApiKeys(dir);
  const secrets = ensureSecretsKey(dir);
  const env = { ...process.env, DATA_DIR: dir, API_KEYS: keys.apiKeys, SECRETS_KEY: secrets.secretsKey };
  return { env, keys, secrets, dir };
}

function realConstantContact(env = process.env) {
  const sandboxForced = ['true', '1', 'yes'].includes(String(env.CC_SANDBOX || '').toLowerCase());
  return Boolean(env.CC_CLIENT_ID && env.CC_CLIENT_SECRET) && !sandboxForced;
}

function temporalTarget(env = process.env) {
  const address = env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  const { host, port } = temporal.parseAddress(address);
  let uiPort = port + 1000;
  if (env.TEMPORAL_UI_URL) {
    try {
      const u = new URL(env.TEMPORAL_UI_URL);
      if (u.port) uiPort = Number(u.port);
    } catch {
      /* config validation reports it */
    }
  }
  return { address, host, port, uiPort, local: temporal.isLocalHost(host), namespace: env.TEMPORAL_NAMESPACE || 'default' };
}

function entryPath(name) {
  return path.join(ROOT, ENTRY[name]);
}

function requireEntry(name) {
  const p = entryPath(name);
  if (!fs.existsSync(p)) throw new Error(`${ENTRY[name]} does not exist: the ${name} entry point is not built (is ${ENTRY[name].replace(/^dist\//, '').replace(/\.js$/, '.ts')} there?)`);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Child processes

const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One line of a child's output for the terminal; pino JSON becomes "LEVEL msg {rest}". */
function formatLine(name, line) {
  let text = line;
  if (line.startsWith('{')) {
    try {
      const o = JSON.parse(line);
      if (o && typeof o === 'object' && 'msg' in o) {
        const { level, time, pid, hostname, msg, ...rest } = o;
        void time;
        void pid;
        void hostname;
        const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
        text = `${[LEVELS[level] ?? level, msg].filter((p) => p !== undefined && p !== '').join(' ')}${extra}`;
      }
    } catch {
      /* not JSON after all */
    }
  }
  return `${name.padEnd(8)}| ${text}`;
}

function pipeLines(stream, name, out) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      out.write(`${formatLine(name, line)}\n`);
    }
  });
  stream.on('end', () => {
    if (buf) out.write(`${formatLine(name, buf)}\n`);
  });
}

/** Spawns `node <entry>` in its own process group with prefixed output. */
function spawnApp(name, entry, env, args = []) {
  const child = spawn(process.execPath, [entry, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  pipeLines(child.stdout, name, process.stdout);
  pipeLines(child.stderr, name, process.stderr);
  child.on('error', (err) => warn(`${name}: ${err.message}`));
  return child;
}

function httpGet(url, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        if (body.length < 4096) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Commands

async function prepare() {
  ensureDependencies();
  if (!ensureBuild()) throw new Error('the TypeScript build failed (see the errors above)');
}

async function cmdStart() {
  await prepare();
  const { env, keys, secrets, dir } = appEnvironment();
  const target = temporalTarget(env);
  const children = []; // {name, child} in start order; stopped in reverse
  let server = null;
  let stopping = false;
  let watchdog = null;

  const stopAll = async (code) => {
    if (stopping) return;
    stopping = true;
    say('\nStopping...');
    const apps = children.slice().reverse();
    // API and workers first (they drain), then the sandbox, then Temporal.
    await Promise.all(apps.filter((c) => c.name !== 'sandbox').map((c) => temporal.stopProcess({ child: c.child, group: true, graceMs: 15000 })));
    await Promise.all(apps.filter((c) => c.name === 'sandbox').map((c) => temporal.stopProcess({ child: c.child, group: true, graceMs: 5000 })));
    if (server) await server.stop();
    if (watchdog) temporal.stopProcess({ pid: watchdog.pid, graceMs: 1000 });
    say('Stopped.');
    process.exit(code);
  };
  let interrupts = 0;
  const onSignal = () => {
    interrupts += 1;
    if (interrupts > 1) {
      warn('second interrupt: killing everything now');
      for (const c of children) {
        try {
          process.kill(-c.child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (server?.pid) {
        try {
          process.kill(-server.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      process.exit(130);
    }
    void stopAll(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    if (target.local) {
      const cli = await temporal.ensureTemporalCli();
      say(`Starting the Temporal dev server on ${target.address} (UI on ${target.uiPort})...`);
      server = await temporal.startDevServer({
        cli: cli.path,
        ip: target.host === 'localhost' ? '127.0.0.1' : target.host || '127.0.0.1',
        port: target.port,
        uiPort: target.uiPort,
        dbFile: path.join(dir, 'temporal', 'temporal.db'),
        logFile: path.join(dir, 'temporal', 'temporal.log'),
        namespace: target.namespace,
        healthTimeoutMs: 90000,
      });
      if (!process.env.TEMPORAL_UI_URL && server.uiUrl) env.TEMPORAL_UI_URL = server.uiUrl;
    } else if (!(await temporal.isListening(target.host, target.port, 3000))) {
      warn(`TEMPORAL_ADDRESS ${target.address} does not answer yet; the worker and the API will keep trying`);
    }
    if (stopping) return;

    const started = (name, child) => {
      children.push({ name, child });
      child.on('exit', (code, signal) => {
        if (stopping) return;
        warn(`${name} exited (${signal || code}); stopping everything`);
        void stopAll(code || 1);
      });
    };
    if (!realConstantContact(env)) {
      if (fs.existsSync(entryPath('sandbox'))) {
        started('sandbox', spawnApp('sandbox', entryPath('sandbox'), env));
        const sandboxPort = Number(env.CC_SANDBOX_PORT || 4010);
        const deadline = Date.now() + 30000;
        while (!stopping && !(await temporal.isListening('127.0.0.1', sandboxPort)) && Date.now() < deadline) await sleep(200);
      } else {
        warn(`${ENTRY.sandbox} is missing: starting without the Constant Contact sandbox`);
      }
    }
    started('worker', spawnApp('worker', requireEntry('worker'), env));
    started('api', spawnApp('api', requireEntry('api'), env));

    const apiPort = Number(env.PORT || 3000);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const deadline = Date.now() + 120000;
    let last = { status: 0, body: '' };
    while (!stopping) {
      last = await httpGet(`${apiUrl}/readyz`);
      if (last.status === 200) break;
      if (Date.now() > deadline) throw new Error(`${apiUrl}/readyz did not answer 200 within 120 s (last: ${last.status} ${last.body})`);
      await sleep(500);
    }
    if (stopping) return;
    watchdog = temporal.startWatchdog(process.pid, [...children.map((c) => -c.child.pid), ...(server?.pid ? [-server.pid] : [])]);

    const ui = env.TEMPORAL_UI_URL || `http://127.0.0.1:${target.uiPort}`;
    say('');
    say(bold('segment-export is running'));
    say(`  API           ${apiUrl}   (OpenAPI: ${apiUrl}/v1/openapi.json)`);
    say(`  Temporal UI   ${ui}`);
    say(`  Temporal      ${target.address} (namespace ${target.namespace})${server?.reused ? ', reused' : ''}`);
    if (!realConstantContact(env)) say(`  CC sandbox    http://127.0.0.1:${env.CC_SANDBOX_PORT || 4010}`);
    else say('  Constant Contact: the real service (CC_CLIENT_ID is set)');
    if (keys.stored) {
      say(`  Admin key        ${keys.stored.admin}`);
      say(`  Contributor key  ${keys.stored.contributor}`);
      say(`  (kept in ${path.relative(process.cwd(), keys.file) || keys.file}${keys.created ? ', new' : ''})`);
    } else {
      say('  API keys      from API_KEYS');
    }
    if (secrets.file && secrets.created) say(`  SECRETS_KEY   generated into ${path.relative(process.cwd(), secrets.file)}`);
    say(`  Logs          Temporal: ${server?.logFile ? path.relative(process.cwd(), server.logFile) : 'n/a'}; the others below`);
    say('Press Ctrl-C to stop.');
    say('ready');
  } catch (err) {
    warn(err.message);
    await stopAll(1);
  }
}

/** worker | api | sandbox alone, in the foreground. */
async function cmdOne(name) {
  await prepare();
  const env = name === 'sandbox' ? { ...process.env } : appEnvironment().env;
  if (name !== 'sandbox' && !process.env.TEMPORAL_UI_URL) {
    const t = temporalTarget(env);
    if (t.local) env.TEMPORAL_UI_URL = `http://127.0.0.1:${t.uiPort}`;
  }
  return runForeground(requireEntry(name), process.argv.slice(3), env);
}

/** Runs `node entry args` with inherited stdio, forwarding SIGINT/SIGTERM; exits with its code. */
function runForeground(entry, args, env = process.env) {
  return new Promise((resolve) => {
    // Its own process group (so a terminal's Ctrl-C is forwarded once); no stdin, which a background
    // process group could not read anyway.
    const child = spawn(process.execPath, [entry, ...args], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    const forward = (sig) => () => {
      try {
        process.kill(child.pid, sig);
      } catch {
        /* gone */
      }
    };
    const handlers = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((sig) => [sig, forward(sig)]);
    for (const [sig, h] of handlers) process.on(sig, h);
    const watchdog = temporal.startWatchdog(process.pid, [-child.pid]);
    child.on('exit', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      temporal.stopProcess({ pid: watchdog.pid, graceMs: 1000 });
      resolve(code ?? (signal ? 128 + (os.constants.signals[signal] || 1) : 1));
    });
  });
}

async function cmdTemporal() {
  const cli = await temporal.ensureTemporalCli();
  const target = temporalTarget();
  if (!target.local) throw new UsageError(`TEMPORAL_ADDRESS ${target.address} is not local; the dev server only runs on this machine`);
  if (await temporal.isListening(target.host, target.port)) {
    say(`A Temporal server is already listening at ${target.address}.`);
    return 0;
  }
  const dir = dataDir();
  const server = await temporal.startDevServer({
    cli: cli.path,
    ip: target.host === 'localhost' || !target.host ? '127.0.0.1' : target.host,
    port: target.port,
    uiPort: target.uiPort,
    dbFile: path.join(dir, 'temporal', 'temporal.db'),
    logFile: null, // foreground: its output goes to this terminal
    namespace: target.namespace,
    healthTimeoutMs: 90000,
    watchOwner: process.pid,
  });
  say(`Temporal dev server ${cli.version ? `(CLI v${cli.version}) ` : ''}on ${server.address}, UI ${server.uiUrl}, database ${path.relative(process.cwd(), path.join(dir, 'temporal', 'temporal.db'))}`);
  say('Press Ctrl-C to stop.');
  return new Promise((resolve) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await server.stop();
      resolve(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', stop);
    server.child.on('exit', (code, signal) => {
      if (stopping) return;
      warn(`the Temporal dev server exited (${signal || code})`);
      resolve(code || 1);
    });
  });
}

/**
 * The closing summary from jest's --json output. Suites that failed to run (syntax errors, a
 * failing beforeAll without tests) count as failures too: otherwise a broken file would be silent.
 */
function summarizeJest(results) {
  const failedNames = [];
  let suiteErrors = 0;
  for (const suite of results.testResults || []) {
    const file = path.relative(ROOT, suite.name || suite.testFilePath || '');
    const asserts = suite.assertionResults || suite.testResults || [];
    for (const a of asserts) {
      if (a.status === 'failed') failedNames.push(`${file}: ${a.fullName || [...(a.ancestorTitles || []), a.title].join(' ')}`);
    }
    if (suite.status === 'failed' && !asserts.some((a) => a.status === 'failed')) {
      suiteErrors += 1;
      const firstLine = String(suite.message || suite.failureMessage || '').split('\n').find((l) => l.trim()) || 'failed to run';
      failedNames.push(`${file}: (suite failed to run) ${firstLine.trim()}`);
    }
  }
  const passed = results.numPassedTests || 0;
  const failed = (results.numFailedTests || 0) + suiteErrors;
  return { passed, failed, failedNames, line: `Tests: ${passed} passed, ${failed} failed` };
}

async function cmdTest(args) {
  ensureDependencies();
  const buildOk = ensureBuild();
  if (!buildOk) warn('the TypeScript build failed; running the tests anyway (tests that spawn dist/ may fail)');
  const cli = await temporal.ensureTemporalCli();
  const outFile = path.join(os.tmpdir(), `segment-export-jest-${process.pid}-${Date.now()}.json`);
  const jestBin = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
  const env = { ...process.env, TEMPORAL_CLI: cli.path };
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [jestBin, '--ci', '--json', `--outputFile=${outFile}`, ...args], { cwd: ROOT, env, stdio: 'inherit' });
    // Ctrl-C reaches jest directly (same process group); SIGTERM (a CI timeout) is forwarded.
    const onInt = () => {};
    const onTerm = () => {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    child.on('exit', (c, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(c ?? (signal ? 1 : 0));
    });
  });
  let summary;
  try {
    summary = summarizeJest(JSON.parse(fs.readFileSync(outFile, 'utf8')));
  } catch {
    summary = null;
  } finally {
    fs.rmSync(outFile, { force: true });
  }
  say('');
  if (!buildOk) say('Build failed: tsc -p tsconfig.build.json reported errors');
  if (!summary) {
    say(`jest exited with ${code} without writing results`);
    say('Tests: 0 passed, 0 failed');
    return code || 1;
  }
  if (summary.failedNames.length) {
    say('Failed:');
    for (const n of summary.failedNames) say(`  ✕ ${n}`);
  }
  say(summary.line);
  return summary.failed > 0 || code !== 0 || !buildOk ? 1 : 0;
}

async function cmdDelegate(name, args) {
  await prepare();
  const env = { ...appEnvironment().env };
  const cli = temporal.findTemporalCli();
  if (cli && !env.TEMPORAL_CLI) env.TEMPORAL_CLI = cli.path;
  return runForeground(requireEntry(name), args, env);
}

const USAGE = `usage: node scripts/run.js <command> [args]
  start       Temporal dev server, Constant Contact sandbox, worker and API (Ctrl-C stops all)
  cluster     Temporal server on PostgreSQL, its UI, N workers and M APIs (--workers N --apis M)
  test        the test suite (extra args go to jest)
  worker      one worker process against the running Temporal server and store
  api         one API process
  sandbox     the Constant Contact sandbox alone
  temporal    the Temporal dev server in the foreground
  bench       the benchmark (args passed through)
  demo        the demo (args passed through)`;

async function main(argv) {
  const [cmd, ...args] = argv;
  process.chdir(ROOT);
  switch (cmd) {
    case 'start':
      await cmdStart();
      return null; // keeps running until a signal
    case 'test':
      return cmdTest(args);
    case 'worker':
    case 'api':
    case 'sandbox':
      return cmdOne(cmd);
    case 'temporal':
      return cmdTemporal();
    case 'bench':
    case 'demo':
      return cmdDelegate(cmd, args);
    case 'cluster':
      await require('./cluster.js').cmdCluster(args);
      return null; // keeps running until a signal
    case 'build':
      ensureDependencies();
      return ensureBuild({ force: true }) ? 0 : 1;
    default:
      throw new UsageError(USAGE);
  }
}

module.exports = { summarizeJest, ensureApiKeys, ensureSecretsKey, temporalTarget, realConstantContact, formatLine, buildIsStale, prepare, appEnvironment, spawnApp, entryPath, requireEntry };

if (require.main === module) {
  // DATA_DIR is relative to where the command was started; resolve it before changing directory.
  if (process.env.DATA_DIR) process.env.DATA_DIR = path.resolve(process.env.DATA_DIR);
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== null && code !== undefined) process.exit(code);
    },
    (err) => {
      process.stderr.write(`${err instanceof UsageError ? '' : 'run: '}${err.message}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
