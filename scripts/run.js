#!/usr/bin/env node
'use strict';
/**
 * The one entry point behind the npm scripts. Plain CommonJS without dependencies, so it runs on a
 * fresh clone before `npm install`.
 *
 *   node scripts/run.js start      dev server + sandbox + worker + API, restarted when one exits; Ctrl-C stops them all
 *   node scripts/run.js cluster [--workers N] [--apis M]   the same supervision for Temporal's own server on
 *                                  PostgreSQL, its UI, the sandbox, N workers and M APIs (pieces in cluster.js)
 *   node scripts/run.js test [...] the whole jest suite; ends with `Tests: N passed, N failed`
 *   node scripts/run.js test:unit [...]  the unit tests only: no Temporal server, no PostgreSQL
 *   node scripts/run.js worker|api|sandbox   one process alone (scale out, replace a crashed one)
 *   node scripts/run.js temporal   the Temporal dev server in the foreground
 *   node scripts/run.js bench|demo [...]     delegate to dist/bench/main.js, dist/scripts/demo.js
 *
 * The work is done by its neighbours: prepare.js (install, build), secrets.js (generated keys),
 * supervise.js (child processes), logs.js (output), jest-summary.js (the tests), temporal.js,
 * cluster.js (Temporal's own server on PostgreSQL).
 */
const fs = require('node:fs');
const path = require('node:path');
const temporal = require('./temporal.js');
const cluster = require('./cluster.js');
const { SERVER_VERSION } = require('./temporal-server.js');
const { ENTRY, dataDir, entryPath, realConstantContact, requireEntry, temporalTarget } = require('./environment.js');
const { ensureBuild, ensureDependencies, prepare } = require('./prepare.js');
const { appEnvironment, ensureApiKeys, ensureSecretsKey } = require('./secrets.js');
const { createSupervisor, runForeground, waitReady } = require('./supervise.js');
const { bold, formatLine, say, warn } = require('./logs.js');
const { runJestWithSummary, summarizeJest } = require('./jest-summary.js');

const { sleep } = temporal;

class UsageError extends Error {}

async function cmdStart() {
  await prepare();
  const { env, keys, secrets, dir } = appEnvironment();
  const target = temporalTarget(env);
  const supervisor = createSupervisor();
  let server = null;
  try {
    if (target.local) {
      const cli = await temporal.ensureTemporalCli();
      say(`Starting the Temporal dev server on ${target.address} (UI on ${target.uiPort})...`);
      // Supervised like the others: restarted on the same database file, it keeps every run and
      // schedule, and the worker and the API reconnect to it by themselves.
      server = await supervisor.supervise('temporal', () =>
        temporal.startDevServer({
          cli: cli.path,
          ip: target.host === 'localhost' ? '127.0.0.1' : target.host || '127.0.0.1',
          port: target.port,
          uiPort: target.uiPort,
          dbFile: path.join(dir, 'temporal', 'temporal.db'),
          logFile: path.join(dir, 'temporal', 'temporal.log'),
          namespace: target.namespace,
          healthTimeoutMs: 90000,
          watchOwner: process.pid, // covers the server while it starts, before the supervisor's watchdog knows it
        }),
      );
      if (!process.env.TEMPORAL_UI_URL && server.uiUrl) env.TEMPORAL_UI_URL = server.uiUrl;
    } else if (!(await temporal.isListening(target.host, target.port, 3000))) {
      warn(`TEMPORAL_ADDRESS ${target.address} does not answer yet; the API keeps trying; the worker is restarted until it connects (npm start stops if it fails 5 times within a minute)`);
    }
    if (supervisor.stopping) return;

    if (!realConstantContact(env)) {
      if (fs.existsSync(entryPath('sandbox'))) {
        await supervisor.start('sandbox', entryPath('sandbox'), env);
        const sandboxPort = Number(env.CC_SANDBOX_PORT || 4010);
        const deadline = Date.now() + 30000;
        while (!supervisor.stopping && !(await temporal.isListening('127.0.0.1', sandboxPort)) && Date.now() < deadline) await sleep(200);
      } else {
        warn(`${ENTRY.sandbox} is missing: starting without the Constant Contact sandbox`);
      }
    }
    await supervisor.start('worker', requireEntry('worker'), env);
    await supervisor.start('api', requireEntry('api'), env);

    const apiUrl = `http://127.0.0.1:${Number(env.PORT || 3000)}`;
    await waitReady(apiUrl, supervisor);
    if (supervisor.stopping) return;
    printRunning({ env, target, server, keys, secrets, apiUrl });
  } catch (err) {
    warn(err.message);
    await supervisor.stopAll(1);
  }
}

function printRunning({ env, target, server, keys, secrets, apiUrl }) {
  const ui = env.TEMPORAL_UI_URL || `http://127.0.0.1:${target.uiPort}`;
  say('');
  say(bold('segment-export is running'));
  say(`  API           ${apiUrl}   (OpenAPI: ${apiUrl}/v1/openapi.json)`);
  say(`  Console       ${apiUrl}/console/`);
  say(`  Temporal UI   ${ui}`);
  say(`  Temporal      ${target.address} (namespace ${target.namespace})${server?.reused ? ', reused' : ''}`);
  if (!realConstantContact(env)) say(`  CC sandbox    http://127.0.0.1:${env.CC_SANDBOX_PORT || 4010}`);
  else say('  Constant Contact: the real service (CC_CLIENT_ID is set)');
  sayKeys(keys);
  if (secrets.file && secrets.created) say(`  SECRETS_KEY   generated into ${path.relative(process.cwd(), secrets.file)}`);
  say(`  Logs          Temporal: ${server?.logFile ? path.relative(process.cwd(), server.logFile) : 'n/a'}; the others below`);
  say('Press Ctrl-C to stop.');
  say('ready');
}

/** The API keys, generated ones in full (they are the caller's own, on this machine). */
function sayKeys(keys) {
  if (keys.stored) {
    say(`  Admin key        ${keys.stored.admin}`);
    say(`  Contributor key  ${keys.stored.contributor}`);
    say(`  (kept in ${path.relative(process.cwd(), keys.file) || keys.file}${keys.created ? ', new' : ''})`);
  } else {
    say('  API keys      from API_KEYS');
  }
}

/** `npm run cluster -- [--workers N] [--apis M]`: the counts, 2 and 2 by default. */
function parseClusterArgs(args) {
  const counts = { workers: 2, apis: 2 };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split('=', 2);
    const name = flag.replace(/^--/, '');
    const value = Number(inline ?? args[++i]);
    if (!(name in counts) || !Number.isInteger(value) || value < 1 || value > 16) {
      throw new UsageError(`usage: npm run cluster -- [--workers N] [--apis M]   (1 to 16 each; got ${args.join(' ')})`);
    }
    counts[name] = value;
  }
  return counts;
}

/** What a restart of the cluster's server means: its state is in PostgreSQL. */
const CLUSTER_SERVER_RESTARTED = 'on the same PostgreSQL databases: runs, schedules and histories are kept; the workers and the APIs reconnect by themselves';

/**
 * `npm run cluster` (the pieces are in cluster.js): Temporal's server and UI, the sandbox, the
 * workers and the APIs are children of the same supervisor as those of `npm start`.
 */
async function cmdCluster(args) {
  const counts = parseClusterArgs(args);
  const databases = cluster.clusterDatabases(process.env.CLUSTER_DATABASE_PREFIX);
  await prepare();
  const { env, keys, dir } = appEnvironment();
  const target = temporalTarget(env);
  if (!target.local) throw new Error(`TEMPORAL_ADDRESS ${target.address} is not local: npm run cluster starts its own Temporal server`);
  const clusterUrl = process.env.CLUSTER_DATABASE_URL || cluster.DEFAULT_DATABASE_URL;
  const supervisor = createSupervisor();
  try {
    const logDir = path.join(dir, 'cluster');
    const pg = cluster.postgresTarget(clusterUrl);
    say(`Starting Temporal server ${SERVER_VERSION} on PostgreSQL (${pg.host}:${pg.port}, databases ${databases.temporal} and ${databases.visibility})...`);
    const prepared = await cluster.prepareTemporalCluster({
      databaseUrl: clusterUrl,
      databases,
      ports: cluster.serverPorts(target.port),
      uiPort: target.uiPort,
      namespace: target.namespace,
      logDir,
      watchOwner: process.pid, // covers each Temporal process while it starts, before the supervisor's watchdog knows it
      log: say,
    });
    await supervisor.supervise('temporal', prepared.launchServer, { restarted: CLUSTER_SERVER_RESTARTED });
    if (supervisor.stopping) return;
    await prepared.setupNamespace();
    const ui = await supervisor.supervise('temporal-ui', prepared.launchUi);
    if (supervisor.stopping) return;
    env.DATABASE_URL ||= await cluster.ensureAppDatabase(prepared.binaries, clusterUrl, databases.app);
    env.TEMPORAL_ADDRESS = prepared.address;
    env.TEMPORAL_UI_URL ||= ui.url;
    if (!realConstantContact(env)) await supervisor.start('sandbox', entryPath('sandbox'), env);
    for (let i = 1; i <= counts.workers; i++) await supervisor.start(`worker${i}`, requireEntry('worker'), env, { kind: 'worker' });
    const apiUrls = [];
    for (let i = 1; i <= counts.apis; i++) {
      const port = Number(env.PORT || 3000) + i - 1;
      apiUrls.push(`http://127.0.0.1:${port}`);
      await supervisor.start(`api${i}`, requireEntry('api'), { ...env, PORT: String(port) }, { kind: 'api' });
    }
    await Promise.all(apiUrls.map((url) => waitReady(url, supervisor)));
    if (supervisor.stopping) return;
    printClusterRunning({ counts, apiUrls, uiUrl: ui.url, address: prepared.address, namespace: target.namespace, env, keys, logDir });
  } catch (err) {
    warn(err.message);
    await supervisor.stopAll(1);
  }
}

function printClusterRunning({ counts, apiUrls, uiUrl, address, namespace, env, keys, logDir }) {
  say('');
  say(bold(`segment-export cluster is running: ${counts.workers} workers, ${counts.apis} API processes`));
  apiUrls.forEach((url, i) => say(`  API ${i + 1}         ${url}`));
  say(`  Temporal UI   ${uiUrl}`);
  say(`  Temporal      ${address} (namespace ${namespace}), PostgreSQL persistence and visibility`);
  say(`  Store         PostgreSQL database ${new URL(env.DATABASE_URL).pathname.slice(1)}`);
  sayKeys(keys);
  say(`  Logs          Temporal: ${path.relative(process.cwd(), logDir)}/; the others below`);
  say('Press Ctrl-C to stop.');
  say('ready');
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
 * The whole suite (both jest projects), or with `unitOnly` the unit project alone: that one needs
 * neither the Temporal CLI nor a server (the integration project's global setup starts the server).
 */
async function cmdTest(args, { unitOnly = false } = {}) {
  ensureDependencies();
  const buildOk = ensureBuild();
  if (!buildOk) warn('the TypeScript build failed; running the tests anyway (tests that spawn dist/ may fail)');
  if (unitOnly) return runJestWithSummary(['--selectProjects', 'unit', ...args], { buildOk });
  const cli = await temporal.ensureTemporalCli();
  return runJestWithSummary(args, { env: { ...process.env, TEMPORAL_CLI: cli.path }, buildOk });
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
  test:unit   the unit tests only (no Temporal server, no PostgreSQL)
  worker      one worker process against the running Temporal server and store
  api         one API process
  sandbox     the Constant Contact sandbox alone
  temporal    the Temporal dev server in the foreground
  bench       the benchmark (args passed through)
  demo        the demo (args passed through)`;

async function main(argv) {
  const [cmd, ...args] = argv;
  process.chdir(path.resolve(__dirname, '..'));
  switch (cmd) {
    case 'start':
      await cmdStart();
      return null; // keeps running until a signal
    case 'test':
      return cmdTest(args);
    case 'test:unit':
      return cmdTest(args, { unitOnly: true });
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
      await cmdCluster(args);
      return null; // keeps running until a signal
    case 'build':
      ensureDependencies();
      return ensureBuild({ force: true }) ? 0 : 1;
    default:
      throw new UsageError(USAGE);
  }
}

module.exports = { summarizeJest, ensureApiKeys, ensureSecretsKey, temporalTarget, realConstantContact, formatLine };

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
