'use strict';
/**
 * The scaled-out deployment on this machine, the shape docker-compose.yml runs: Temporal's own
 * server on PostgreSQL (persistence and visibility), its Web UI, N workers and M API processes on a
 * PostgreSQL store. Plain CommonJS without dependencies.
 *
 *   npm run cluster -- [--workers N] [--apis M]      (default 2 and 2; Ctrl-C stops everything)
 *
 * The Temporal steps are the files under docker/temporal/, shared with docker-compose.yml:
 * setup-schema.sh (databases and schema, with temporal-sql-tool), start-server.sh with
 * config/segment-export.yaml (the server), setup-namespace.sh (namespace and search attributes).
 * The functions below are used by the cluster tests and `npm run bench -- --cluster` as well.
 */
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const temporal = require('./temporal.js');
const temporalServer = require('./temporal-server.js');

const TEMPORAL_DIR = path.resolve(__dirname, '..', 'docker', 'temporal');
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const DEFAULT_DATABASES = Object.freeze({ temporal: 'temporal', visibility: 'temporal_visibility' });

/** The server's ports as offsets from the frontend's; from 7233, the defaults of temporalio/server. */
const PORT_OFFSETS = Object.freeze({
  FRONTEND_GRPC_PORT: 0,
  HISTORY_GRPC_PORT: 1,
  MATCHING_GRPC_PORT: 2,
  WORKER_GRPC_PORT: 6,
  FRONTEND_HTTP_PORT: 10,
  FRONTEND_MEMBERSHIP_PORT: -300,
  HISTORY_MEMBERSHIP_PORT: -299,
  MATCHING_MEMBERSHIP_PORT: -298,
  WORKER_MEMBERSHIP_PORT: -294,
});

const defaultLog = (msg) => process.stderr.write(`[cluster] ${msg}\n`);

function serverPorts(frontendPort) {
  const ports = Object.fromEntries(Object.entries(PORT_OFFSETS).map(([name, offset]) => [name, frontendPort + offset]));
  if (Object.values(ports).some((p) => p < 1024 || p > 32767)) {
    throw new Error(`the Temporal port ${frontendPort} is out of range: with it the server's ports (${Object.values(ports).join(', ')}) must lie within 1024-32767 (Temporal keeps membership ports in a smallint column)`);
  }
  return ports;
}

function canListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Free ports for every port of the server (tests: never the defaults), below 32768: Temporal keeps
 * membership ports in a smallint column, and the ports the OS hands out are above it.
 */
async function freeServerPorts() {
  const taken = new Set();
  const ports = {};
  for (const name of Object.keys(PORT_OFFSETS)) {
    for (let tries = 0; !ports[name]; tries++) {
      const port = 20000 + Math.floor(Math.random() * 12000);
      if (!taken.has(port) && (await canListen(port))) ports[name] = port;
      if (tries > 500) throw new Error('no free port between 20000 and 32000');
    }
    taken.add(ports[name]);
  }
  return ports;
}

function postgresTarget(databaseUrl) {
  const u = new URL(databaseUrl);
  return { host: u.hostname || '127.0.0.1', port: u.port || '5432', user: decodeURIComponent(u.username) || 'postgres', password: decodeURIComponent(u.password) };
}

/** Runs one of the docker/temporal/*.sh scripts; rejects with the end of its output. */
function runScript(script, env, { log = defaultLog } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [path.join(TEMPORAL_DIR, script)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (chunk) => {
      out = (out + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) {
        log(`${script}: ${out.trim().split('\n').at(-1)}`);
        resolve();
      } else reject(new Error(`${script} exited with ${code}:\n${out.trim()}`));
    });
  });
}

const withPath = (dir, env = temporal.cliEnv()) => ({ ...env, PATH: `${dir}${path.delimiter}${env.PATH || ''}` });

/** Creates the two Temporal databases when missing and brings their schema up to date. */
async function createTemporalDatabases({ binaries, databaseUrl = DEFAULT_DATABASE_URL, databases = DEFAULT_DATABASES, log = defaultLog }) {
  const pg = postgresTarget(databaseUrl);
  await runScript(
    'setup-schema.sh',
    withPath(binaries.dir, {
      ...temporal.cliEnv(),
      SQL_HOST: pg.host,
      SQL_PORT: pg.port,
      SQL_USER: pg.user,
      SQL_PASSWORD: pg.password,
      DBNAME: databases.temporal,
      VISIBILITY_DBNAME: databases.visibility,
      TEMPORAL_SCHEMA_DIR: temporalServer.postgresSchemaDir(),
    }),
    { log },
  );
}

/**
 * Spawns a long-running process in its own process group, its output appended to `logFile`, with a
 * watchdog that stops it if `watchOwner` dies. Returns `{child, stop()}`.
 */
function spawnLogged(command, args, { env, logFile, header, watchOwner, graceMs }) {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `\n--- ${new Date().toISOString()} ${header}\n`);
  const child = spawn(command, args, { env, stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  const watchdog = watchOwner ? temporal.startWatchdog(watchOwner, [-child.pid]) : null;
  const stop = async () => {
    await temporal.stopProcess({ child, group: true, graceMs });
    if (watchdog) await temporal.stopProcess({ pid: watchdog.pid, graceMs: 1000 });
  };
  return { child, stop };
}

/** The variables config/segment-export.yaml reads, for a server on 127.0.0.1 (names of the temporalio/server image). */
function serverEnvironment({ ports, databaseUrl = DEFAULT_DATABASE_URL, databases = DEFAULT_DATABASES }) {
  const pg = postgresTarget(databaseUrl);
  return {
    POSTGRES_SEEDS: pg.host,
    DB_PORT: pg.port,
    POSTGRES_USER: pg.user,
    POSTGRES_PWD: pg.password,
    DBNAME: databases.temporal,
    VISIBILITY_DBNAME: databases.visibility,
    BIND_ON_IP: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  };
}

/**
 * Starts temporal-server (docker/temporal/start-server.sh) on 127.0.0.1 and waits until its
 * frontend is healthy. Resolves `{address, pid, child, stop(), kill()}`; the process group is its own.
 */
async function startTemporalServer({ binaries, cli, ports, databaseUrl, databases, logFile, watchOwner, healthTimeoutMs = 120000 }) {
  const env = withPath(binaries.dir, { ...temporal.cliEnv(), ...serverEnvironment({ ports, databaseUrl, databases }) });
  const header = `temporal-server ${temporalServer.SERVER_VERSION}, frontend 127.0.0.1:${ports.FRONTEND_GRPC_PORT}`;
  const { child, stop } = spawnLogged('sh', [path.join(TEMPORAL_DIR, 'start-server.sh')], { env, logFile, header, watchOwner, graceMs: 15000 });
  const address = `127.0.0.1:${ports.FRONTEND_GRPC_PORT}`;
  try {
    await temporal.waitHealthy(cli, address, { timeoutMs: healthTimeoutMs, child, logFile });
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, pid: child.pid, child, stop, kill: () => temporal.stopProcess({ child, group: true, signal: 'SIGKILL', graceMs: 5000 }).then(stop) };
}

/** The namespace and the search attributes every run carries (docker/temporal/setup-namespace.sh). */
async function setupNamespace({ cli, address, namespace = 'default', log = defaultLog }) {
  // The script calls `temporal`, as in the admin-tools image.
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'segment-export-cli-'));
  try {
    fs.symlinkSync(cli, path.join(bin, 'temporal'));
    await runScript('setup-namespace.sh', withPath(bin, { ...temporal.cliEnv(), TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace }), { log });
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
  }
}

/** The Web UI server (docker/temporal/ui/segment-export.yaml) for the server at `address`. */
async function startUi({ binaries, address, port, namespace = 'default', logFile, watchOwner }) {
  const env = { ...temporal.cliEnv(), TEMPORAL_ADDRESS: address, TEMPORAL_UI_PORT: String(port), TEMPORAL_DEFAULT_NAMESPACE: namespace };
  const args = ['--root', TEMPORAL_DIR, '--config', 'ui', '--env', 'segment-export', 'start'];
  const { child, stop } = spawnLogged(binaries.ui, args, { env, logFile, header: `temporal-ui-server ${temporalServer.UI_VERSION}`, watchOwner, graceMs: 5000 });
  const deadline = Date.now() + 30000;
  while (!(await temporal.isListening('127.0.0.1', port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the Temporal UI server did not start on port ${port} (see ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop };
}

/**
 * Everything Temporal of the deployment: binaries (built once), databases and schema, the server,
 * the namespace, and the UI unless `uiPort` is null. Resolves `{address, uiUrl, server, ui,
 * restartServer(), stop()}`.
 */
async function startTemporalCluster({
  databaseUrl = DEFAULT_DATABASE_URL,
  databases = DEFAULT_DATABASES,
  ports,
  uiPort = null,
  namespace = 'default',
  logDir,
  watchOwner,
  log = defaultLog,
}) {
  const cli = (await temporal.ensureTemporalCli({ log })).path;
  const binaries = await temporalServer.ensureTemporalServer({ log });
  await createTemporalDatabases({ binaries, databaseUrl, databases, log });
  const serverOptions = { binaries, cli, ports, databaseUrl, databases, logFile: path.join(logDir, 'temporal.log'), watchOwner };
  const cluster = { address: `127.0.0.1:${ports.FRONTEND_GRPC_PORT}`, cli, uiUrl: null, ui: null, server: null };
  cluster.server = await startTemporalServer(serverOptions);
  cluster.restartServer = async ({ kill = false } = {}) => {
    await (kill ? cluster.server.kill() : cluster.server.stop());
    cluster.server = await startTemporalServer(serverOptions);
  };
  cluster.stop = async () => {
    if (cluster.ui) await cluster.ui.stop();
    await cluster.server.stop();
  };
  try {
    await setupNamespace({ cli, address: cluster.address, namespace, log });
    if (uiPort !== null) {
      cluster.ui = await startUi({ binaries, address: cluster.address, port: uiPort, namespace, logFile: path.join(logDir, 'ui.log'), watchOwner });
      cluster.uiUrl = cluster.ui.url;
    }
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

// ---------------------------------------------------------------------------------------------
// npm run cluster

/** The application's store when DATABASE_URL is unset: a database of its own beside Temporal's. */
const APP_DATABASE = 'segment_export';

function parseArgs(args) {
  const counts = { workers: 2, apis: 2 };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split('=', 2);
    const name = flag.replace(/^--/, '');
    const value = Number(inline ?? args[++i]);
    if (!(name in counts) || !Number.isInteger(value) || value < 1 || value > 16) {
      throw new Error(`usage: npm run cluster -- [--workers N] [--apis M]   (1 to 16 each; got ${args.join(' ')})`);
    }
    counts[name] = value;
  }
  return counts;
}

/** CREATE DATABASE with temporal-sql-tool; a database that exists already is fine. */
async function ensureAppDatabase(binaries, databaseUrl, name) {
  const pg = postgresTarget(databaseUrl);
  const args = ['--plugin', 'postgres12', '--ep', pg.host, '-p', pg.port, '-u', pg.user, '--db', name, 'create-database'];
  const r = await new Promise((resolve) => {
    const child = spawn(binaries.sqlTool, args, { env: { ...temporal.cliEnv(), SQL_PASSWORD: pg.password }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.once('close', (code) => resolve({ code, out }));
  });
  if (r.code !== 0 && !/already exists/.test(r.out)) throw new Error(`creating the database ${name} failed:\n${r.out.trim()}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function waitReady(url, isStopping, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  while (!isStopping()) {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => null);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function cmdCluster(args) {
  const run = require('./run.js');
  const counts = parseArgs(args);
  await run.prepare();
  const { env, keys, dir } = run.appEnvironment();
  const target = run.temporalTarget(env);
  if (!target.local) throw new Error(`TEMPORAL_ADDRESS ${target.address} is not local: npm run cluster starts its own Temporal server`);
  const clusterUrl = process.env.CLUSTER_DATABASE_URL || DEFAULT_DATABASE_URL;
  const children = [];
  let cluster = null;
  let watchdog = null;
  let stopping = false;
  const stopAll = async (code) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nStopping...\n');
    const apps = children.filter((c) => c.name !== 'sandbox');
    await Promise.all(apps.map((c) => temporal.stopProcess({ child: c.child, group: true, graceMs: 15000 })));
    await Promise.all(children.filter((c) => c.name === 'sandbox').map((c) => temporal.stopProcess({ child: c.child, group: true, graceMs: 5000 })));
    if (cluster) await cluster.stop();
    if (watchdog) await temporal.stopProcess({ pid: watchdog.pid, graceMs: 1000 });
    process.stdout.write('Stopped.\n');
    process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void stopAll(0));
  const started = (name, child) => {
    children.push({ name, child });
    child.on('exit', (code, signal) => {
      if (stopping) return;
      defaultLog(`${name} exited (${signal || code}); stopping everything`);
      void stopAll(code || 1);
    });
  };

  try {
    const logDir = path.join(dir, 'cluster');
    process.stdout.write(`Starting Temporal server ${temporalServer.SERVER_VERSION} on PostgreSQL (${postgresTarget(clusterUrl).host}:${postgresTarget(clusterUrl).port}, databases ${DEFAULT_DATABASES.temporal} and ${DEFAULT_DATABASES.visibility})...\n`);
    cluster = await startTemporalCluster({
      databaseUrl: clusterUrl,
      ports: serverPorts(target.port),
      uiPort: target.uiPort,
      namespace: target.namespace,
      logDir,
      watchOwner: process.pid,
      log: (m) => process.stdout.write(`${m}\n`),
    });
    if (stopping) return;
    env.DATABASE_URL ||= await ensureAppDatabase(temporalServer.binaries(), clusterUrl, APP_DATABASE);
    env.TEMPORAL_ADDRESS = cluster.address;
    env.TEMPORAL_UI_URL ||= cluster.uiUrl;
    if (!run.realConstantContact(env)) started('sandbox', run.spawnApp('sandbox', run.entryPath('sandbox'), env));
    for (let i = 1; i <= counts.workers; i++) started(`worker${i}`, run.spawnApp(`worker${i}`, run.requireEntry('worker'), env));
    const apiPorts = Array.from({ length: counts.apis }, (_, i) => Number(env.PORT || 3000) + i);
    apiPorts.forEach((port, i) => started(`api${i + 1}`, run.spawnApp(`api${i + 1}`, run.requireEntry('api'), { ...env, PORT: String(port) })));
    // If this process is killed and cannot stop them, the watchdog does.
    watchdog = temporal.startWatchdog(process.pid, children.map((c) => -c.child.pid));
    await Promise.all(apiPorts.map((port) => waitReady(`http://127.0.0.1:${port}/readyz`, () => stopping)));
    if (stopping) return;
    const lines = [
      '',
      `segment-export cluster is running: ${counts.workers} workers, ${counts.apis} API processes`,
      ...apiPorts.map((port, i) => `  API ${i + 1}         http://127.0.0.1:${port}`),
      `  Temporal UI   ${cluster.uiUrl}`,
      `  Temporal      ${cluster.address} (namespace ${target.namespace}), PostgreSQL persistence and visibility`,
      `  Store         PostgreSQL database ${new URL(env.DATABASE_URL).pathname.slice(1)}`,
      ...(keys.stored ? [`  Admin key        ${keys.stored.admin}`, `  Contributor key  ${keys.stored.contributor}`] : ['  API keys      from API_KEYS']),
      `  Logs          Temporal: ${path.relative(process.cwd(), logDir)}/; the others below`,
      'Press Ctrl-C to stop.',
      'ready',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } catch (err) {
    defaultLog(err.message);
    await stopAll(1);
  }
}

module.exports = {
  cmdCluster,
  TEMPORAL_DIR,
  DEFAULT_DATABASE_URL,
  DEFAULT_DATABASES,
  PORT_OFFSETS,
  serverPorts,
  freeServerPorts,
  serverEnvironment,
  postgresTarget,
  createTemporalDatabases,
  startTemporalServer,
  setupNamespace,
  startUi,
  startTemporalCluster,
};
