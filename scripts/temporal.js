'use strict';
/**
 * The Temporal dev server for npm start, npm test and anything else that needs a local Temporal
 * server. Plain CommonJS without dependencies: it runs before `npm install`.
 *
 * - ensureTemporalCli() (scripts/temporal-cli.js): the `temporal` CLI, found or built once.
 * - startDevServer(): `temporal server start-dev` on 127.0.0.1 with a database file (state survives
 *   a restart) and the search attributes the runs carry; reuses a server already listening.
 * - stopProcess() (scripts/processes.js): SIGTERM, then SIGKILL, by pid / process group.
 * This module also re-exports those two modules, so callers need only this one.
 *
 * Usage as a command: node scripts/temporal.js ensure   (prints the path of the CLI)
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFile } = require('node:child_process');
const cliModule = require('./temporal-cli.js');
const processes = require('./processes.js');

const { cliEnv, defaultLog, ensureTemporalCli } = cliModule;
const { isListening, parseAddress, sleep, startWatchdog, stopProcess } = processes;

/**
 * Custom search attributes every export run carries, so that a run is found in the Temporal UI by
 * its export, connection, trigger and status.
 */
const SEARCH_ATTRIBUTES = Object.freeze({
  ExportId: 'Keyword',
  ConnectionId: 'Keyword',
  RunTrigger: 'Keyword',
  RunStatus: 'Keyword',
});

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
  ...cliModule,
  ...processes,
  SEARCH_ATTRIBUTES,
  runCli,
  isHealthy,
  waitHealthy,
  ensureSearchAttributes,
  startDevServer,
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
