'use strict';
/**
 * Temporal CLI and dev server management. Plain CommonJS without dependencies: it runs before
 * `npm install` and is shared by scripts/run.js, test/global-setup.js and anything else that needs
 * a local Temporal server.
 *
 * - ensureTemporalCli(): a `temporal` v1.5.1 on PATH, else the cached build, else builds it once
 *   from the Go module proxy into a per-version cache directory outside the repository.
 * - startDevServer(): `temporal server start-dev` on 127.0.0.1 with a database file (state survives
 *   a restart) and the search attributes the runs carry; reuses a server already listening.
 * - stopProcess(): SIGTERM, then SIGKILL, by pid / process group.
 *
 * Usage as a command: node scripts/temporal.js ensure   (prints the path of the CLI)
 */
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const net = require('node:net');
const { spawn, spawnSync, execFile } = require('node:child_process');

const CLI_VERSION = '1.5.1';
const FALLBACK_VERSIONS = ['1.5.0', '1.4.1'];
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** Custom search attributes every export run carries (see architecture.md, invariant 6). */
const SEARCH_ATTRIBUTES = Object.freeze({
  ExportId: 'Keyword',
  ConnectionId: 'Keyword',
  RunTrigger: 'Keyword',
  RunStatus: 'Keyword',
});

const defaultLog = (msg) => process.stderr.write(`[temporal] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// The CLI

function cacheRoot() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'segment-export', 'temporal-cli');
}

function cachedCliPath(version) {
  return path.join(cacheRoot(), `v${version}`, 'temporal');
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function findGo() {
  return findOnPath('go') || (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
}

/** The environment for running the CLI: without TEMPORAL_* variables, which the CLI would read. */
function cliEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TEMPORAL_')) env[k] = v;
  return env;
}

/**
 * The CLI version a binary reports. `go install` builds report "0.0.0-DEV" unless the version was
 * stamped at link time; for those the module version recorded in the binary (`go version -m`) says.
 */
function cliVersionOf(binary) {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', env: cliEnv(), timeout: 15000 });
  if (r.status !== 0) return null;
  const m = /temporal version (\S+)/.exec(r.stdout || '');
  if (!m) return null;
  if (m[1] !== '0.0.0-DEV') return m[1].replace(/^v/, '');
  const go = findGo();
  if (!go) return null;
  const g = spawnSync(go, ['version', '-m', binary], { encoding: 'utf8', timeout: 15000 });
  const mm = /\bmod\s+github\.com\/temporalio\/cli\s+v(\S+)/.exec(g.stdout || '');
  return mm ? mm[1] : null;
}

/** The CLI if it is there already (env TEMPORAL_CLI, PATH at v1.5.1, or the cache); never builds. */
function findTemporalCli() {
  const explicit = process.env.TEMPORAL_CLI;
  if (explicit && isExecutable(explicit)) return { path: explicit, version: null, source: 'TEMPORAL_CLI' };
  const onPath = findOnPath('temporal');
  if (onPath && cliVersionOf(onPath) === CLI_VERSION) return { path: onPath, version: CLI_VERSION, source: 'PATH' };
  const cached = cachedCliPath(CLI_VERSION);
  if (isExecutable(cached)) return { path: cached, version: CLI_VERSION, source: 'cache' };
  return null;
}

/**
 * Makes sure a Temporal CLI is available and returns `{path, version, source}`. Builds v1.5.1
 * (falling back to v1.5.0, then v1.4.1) with `go install` when neither PATH nor the cache has it.
 */
async function ensureTemporalCli({ log = defaultLog } = {}) {
  const found = findTemporalCli();
  if (found) return found;
  const errors = [];
  for (const version of [CLI_VERSION, ...FALLBACK_VERSIONS]) {
    if (version !== CLI_VERSION && isExecutable(cachedCliPath(version))) {
      log(`using cached Temporal CLI v${version} (v${CLI_VERSION} could not be built)`);
      return { path: cachedCliPath(version), version, source: 'cache' };
    }
    try {
      const built = await buildTemporalCli(version, { log });
      return { path: built, version, source: 'built' };
    } catch (err) {
      errors.push(`v${version}: ${err.message}`);
      log(`building v${version} failed${version === FALLBACK_VERSIONS.at(-1) ? '' : ', trying an older version'}`);
    }
  }
  throw new Error(`could not build the Temporal CLI:\n${errors.join('\n')}`);
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * `CGO_ENABLED=0 go install github.com/temporalio/cli/cmd/temporal@v<version>` into a temporary
 * directory next to the cache entry, then an atomic rename: a killed build leaves no half binary.
 */
async function buildTemporalCli(version, { log = defaultLog } = {}) {
  const go = findGo();
  if (!go) {
    throw new Error(
      `the Go toolchain is not installed: install Go (https://go.dev/dl/) or put temporal v${CLI_VERSION} on PATH`,
    );
  }
  const root = cacheRoot();
  fs.mkdirSync(root, { recursive: true });
  // Leftovers of builds that were killed.
  for (const name of fs.readdirSync(root)) {
    const m = /^\.build-v[^-]+-(\d+)-/.exec(name);
    if (m && !pidAlive(Number(m[1]))) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  }
  const tmp = fs.mkdtempSync(path.join(root, `.build-v${version}-${process.pid}-`));
  const started = Date.now();
  log(`building Temporal CLI v${version} with \`go install ${CLI_MODULE}@v${version}\` (first run only; this takes several minutes)`);
  const args = [
    'install',
    `-ldflags=-s -w -X github.com/temporalio/cli/temporalcli.Version=${version}`,
    `${CLI_MODULE}@v${version}`,
  ];
  const tail = [];
  try {
    const code = await new Promise((resolve, reject) => {
      const child = spawn(go, args, {
        env: { ...process.env, CGO_ENABLED: '0', GOBIN: tmp, GOFLAGS: [process.env.GOFLAGS, '-buildvcs=false'].filter(Boolean).join(' ') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const keep = (chunk) => {
        for (const line of chunk.toString().split('\n')) {
          if (!line.trim()) continue;
          tail.push(line);
          if (tail.length > 40) tail.shift();
        }
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const beat = setInterval(() => log(`still building v${version} (${Math.round((Date.now() - started) / 1000)} s)`), 30000);
      child.on('error', (e) => {
        clearInterval(beat);
        reject(e);
      });
      child.on('close', (c) => {
        clearInterval(beat);
        resolve(c);
      });
    });
    const built = path.join(tmp, 'temporal');
    if (code !== 0 || !isExecutable(built)) {
      throw new Error(`go install exited with ${code}:\n${tail.join('\n')}`);
    }
    const check = spawnSync(built, ['--version'], { encoding: 'utf8', env: cliEnv() });
    if (check.status !== 0) throw new Error(`the built binary does not run: ${check.stderr}`);
    const dest = cachedCliPath(version);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.renameSync(built, dest);
    log(`built Temporal CLI v${version} in ${Math.round((Date.now() - started) / 1000)} s: ${dest}`);
    return dest;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Addresses and ports

function parseAddress(address) {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address.trim());
  if (!m) throw new Error(`not a host:port address: ${address}`);
  return { host: m[1], port: Number(m[2]) };
}

function isLocalHost(host) {
  return ['127.0.0.1', 'localhost', '0.0.0.0', '::1', ''].includes(host);
}

/** Resolves true when something accepts TCP connections at host:port. */
function isListening(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: host === '0.0.0.0' || host === '' ? '127.0.0.1' : host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A TCP port that is free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Talking to a server with the CLI

/** Runs the CLI; resolves {code, stdout, stderr}. */
function runCli(cli, args, { timeoutMs = 30000 } = {}) {
  return new Promise((resolve) => {
    execFile(cli, args, { env: cliEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function isHealthy(cli, address) {
  const r = await runCli(cli, ['operator', 'cluster', 'health', '--address', address], { timeoutMs: 10000 });
  return r.code === 0 && /SERVING/.test(r.stdout);
}

/** Waits until the frontend answers the health check. `child`, when given, failing fast. */
async function waitHealthy(cli, address, { timeoutMs = 60000, child, logFile } = {}) {
  const deadline = Date.now() + timeoutMs;
  const { host, port } = parseAddress(address);
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`the Temporal dev server exited (${child.exitCode ?? child.signalCode}) before it was healthy${logTail(logFile)}`);
    }
    if ((await isListening(host, port)) && (await isHealthy(cli, address))) return;
    if (Date.now() > deadline) {
      throw new Error(`the Temporal server at ${address} was not healthy after ${Math.round(timeoutMs / 1000)} s${logTail(logFile)}`);
    }
    await sleep(250);
  }
}

function logTail(logFile) {
  if (!logFile) return '';
  try {
    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-15);
    return `; last lines of ${logFile}:\n${lines.join('\n')}`;
  } catch {
    return '';
  }
}

/**
 * Registers the search attributes that are missing. The dev server registers `--search-attribute`s
 * only when it creates its database, so a database from an older version of this project gets the
 * new ones here.
 */
async function ensureSearchAttributes(cli, address, namespace = 'default', attributes = SEARCH_ATTRIBUTES) {
  const list = await runCli(cli, ['operator', 'search-attribute', 'list', '--address', address, '--namespace', namespace, '-o', 'json']);
  if (list.code !== 0) throw new Error(`listing search attributes failed: ${list.stderr.trim()}`);
  const existing = new Set();
  try {
    const parsed = JSON.parse(list.stdout);
    for (const k of Object.keys(parsed.customAttributes || {})) existing.add(k);
  } catch {
    for (const line of list.stdout.split('\n')) existing.add(line.trim().split(/\s+/)[0]);
  }
  const missing = Object.entries(attributes).filter(([name]) => !existing.has(name));
  if (missing.length === 0) return [];
  const args = ['operator', 'search-attribute', 'create', '--address', address, '--namespace', namespace];
  for (const [name, type] of missing) args.push('--name', name, '--type', type);
  const r = await runCli(cli, args);
  if (r.code !== 0) throw new Error(`registering search attributes ${missing.map(([n]) => n).join(', ')} failed: ${r.stderr.trim()}`);
  return missing.map(([n]) => n);
}

// ---------------------------------------------------------------------------------------------
// Processes

function processGone(pid) {
  return !pidAlive(pid);
}

/**
 * Stops a process: SIGTERM, then SIGKILL after `graceMs`. With `group`, signals the whole process
 * group (the process was spawned detached). With `child` (a ChildProcess), waits for its exit event.
 */
async function stopProcess({ pid, child, group = false, graceMs = 10000, signal = 'SIGTERM' }) {
  pid = pid ?? child?.pid;
  if (!pid) return;
  const exited = () => (child ? child.exitCode !== null || child.signalCode !== null : processGone(pid));
  const send = (sig) => {
    try {
      process.kill(group ? -pid : pid, sig);
    } catch {
      /* already gone */
    }
  };
  if (exited()) {
    if (group) send('SIGKILL'); // stragglers in the group
    return;
  }
  const exitPromise = child ? new Promise((r) => child.once('exit', r)) : null;
  send(signal);
  const deadline = Date.now() + graceMs;
  while (!exited() && Date.now() < deadline) {
    await Promise.race([sleep(100), exitPromise].filter(Boolean));
  }
  if (!exited() || group) send('SIGKILL');
  const hardDeadline = Date.now() + 5000;
  while (!exited() && Date.now() < hardDeadline) await sleep(50);
}

/**
 * Starts a detached watchdog that stops the given process groups when `ownerPid` dies (for example
 * when a test runner or `npm start` is killed with SIGKILL and cannot clean up).
 */
function startWatchdog(ownerPid, pids) {
  const child = spawn(process.execPath, [path.join(__dirname, 'watchdog.js'), String(ownerPid), ...pids.map(String)], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child;
}

// ---------------------------------------------------------------------------------------------
// The dev server

/**
 * Starts `temporal server start-dev`, or reuses a server already listening at the address.
 * Resolves `{address, uiUrl, pid, reused, logFile, stop()}` once the server is healthy and has the
 * search attributes.
 */
async function startDevServer({
  cli,
  ip = '127.0.0.1',
  port = 7233,
  uiPort,
  dbFile,
  logFile,
  namespace = 'default',
  searchAttributes = SEARCH_ATTRIBUTES,
  headless = false,
  healthTimeoutMs = 60000,
  watchOwner,
  log = defaultLog,
}) {
  if (!cli) throw new Error('startDevServer: cli is required');
  const address = `${ip}:${port}`;
  uiPort = uiPort ?? port + 1000;
  const uiUrl = `http://${ip}:${uiPort}`;
  if (await isListening(ip, port)) {
    await waitHealthy(cli, address, { timeoutMs: Math.min(healthTimeoutMs, 15000) });
    await ensureSearchAttributes(cli, address, namespace, searchAttributes);
    log(`reusing the Temporal server already listening at ${address}`);
    return { address, uiUrl, pid: null, reused: true, logFile: null, stop: async () => {} };
  }
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--log-level', 'warn'];
  if (headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (dbFile) {
    fs.mkdirSync(path.dirname(dbFile), { recursive: true });
    args.push('--db-filename', dbFile);
  }
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const [name, type] of Object.entries(searchAttributes)) args.push('--search-attribute', `${name}=${type}`);

  let out = 'inherit';
  let fd = null;
  if (logFile) {
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    fd = fs.openSync(logFile, 'a');
    fs.writeSync(fd, `\n--- ${new Date().toISOString()} temporal ${args.join(' ')}\n`);
    out = fd;
  }
  const child = spawn(cli, args, { stdio: ['ignore', out, out], detached: true, env: cliEnv() });
  if (fd !== null) fs.closeSync(fd);
  const spawnError = new Promise((_, reject) => child.once('error', reject));
  spawnError.catch(() => {});
  const watchdog = watchOwner ? startWatchdog(watchOwner, [-child.pid]) : null;
  const stop = async () => {
    await stopProcess({ child, group: true, graceMs: 10000 });
    if (watchdog) {
      try {
        process.kill(watchdog.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  };
  try {
    await Promise.race([waitHealthy(cli, address, { timeoutMs: healthTimeoutMs, child, logFile }), spawnError]);
    await ensureSearchAttributes(cli, address, namespace, searchAttributes);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl: headless ? null : uiUrl, pid: child.pid, child, reused: false, logFile, stop };
}

module.exports = {
  CLI_VERSION,
  FALLBACK_VERSIONS,
  SEARCH_ATTRIBUTES,
  cacheRoot,
  cachedCliPath,
  cliEnv,
  cliVersionOf,
  findTemporalCli,
  ensureTemporalCli,
  buildTemporalCli,
  parseAddress,
  isLocalHost,
  isListening,
  freePort,
  runCli,
  isHealthy,
  waitHealthy,
  ensureSearchAttributes,
  stopProcess,
  startWatchdog,
  startDevServer,
  pidAlive,
  isExecutable,
  findGo,
};

if (require.main === module) {
  const [cmd] = process.argv.slice(2);
  if (cmd === 'ensure') {
    ensureTemporalCli().then(
      (cli) => process.stdout.write(`${cli.path}\n`),
      (err) => {
        process.stderr.write(`${err.message}\n`);
        process.exit(1);
      },
    );
  } else {
    process.stderr.write('usage: node scripts/temporal.js ensure\n');
    process.exit(2);
  }
}
