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
 * The command itself is in scripts/run.js, which supervises these processes as it does those of
 * `npm start`; the functions below serve it, the cluster tests and `npm run bench -- --cluster`.
 */
const fs = require('node:fs');
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

/**
 * Free ports for the server (tests: never the defaults): a frontend port whose other ports, at their
 * offsets, are free too, so that `TEMPORAL_ADDRESS` alone names them all as for `npm run cluster`;
 * below 32768, since Temporal keeps membership ports in a smallint column and the ports the OS
 * hands out are above it.
 */
async function freeServerPorts() {
  for (let tries = 0; tries < 200; tries++) {
    const ports = serverPorts(20300 + Math.floor(Math.random() * 12000));
    if ((await Promise.all(Object.values(ports).map(temporal.canListen))).every(Boolean)) return ports;
  }
  throw new Error('no free ports for a Temporal server between 20000 and 32310');
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
 * frontend is healthy. Resolves `{address, pid, child, logFile, stop()}`; the process group is its own.
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
  return { address, pid: child.pid, child, logFile, stop };
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

/** The Web UI server (docker/temporal/ui/segment-export.yaml) for the server at `address`. Resolves `{url, pid, child, logFile, stop()}`. */
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
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, child, logFile, stop };
}

/**
 * What Temporal needs before its processes start: the binaries (built once), the CLI, the databases
 * and their schema. Resolves `{address, cli, binaries, launchServer(), setupNamespace(), launchUi()}`,
 * launchUi null when `uiPort` is null; each launch resolves the handle of a started process.
 */
async function prepareTemporalCluster({
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
  const address = `127.0.0.1:${ports.FRONTEND_GRPC_PORT}`;
  const launchUi = () => startUi({ binaries, address, port: uiPort, namespace, logFile: path.join(logDir, 'ui.log'), watchOwner });
  return {
    address,
    cli,
    binaries,
    launchServer: () => startTemporalServer({ binaries, cli, ports, databaseUrl, databases, logFile: path.join(logDir, 'temporal.log'), watchOwner }),
    setupNamespace: () => setupNamespace({ cli, address, namespace, log }),
    launchUi: uiPort === null ? null : launchUi,
  };
}

/**
 * Everything Temporal of the deployment, unsupervised (the cluster benchmark): binaries, databases
 * and schema, the server, the namespace, and the UI unless `uiPort` is null. Resolves `{address,
 * cli, uiUrl, stop()}`.
 */
async function startTemporalCluster(options) {
  const prepared = await prepareTemporalCluster(options);
  const server = await prepared.launchServer();
  let ui = null;
  const stop = async () => {
    await ui?.stop();
    await server.stop();
  };
  try {
    await prepared.setupNamespace();
    if (prepared.launchUi) ui = await prepared.launchUi();
  } catch (err) {
    await stop();
    throw err;
  }
  return { address: prepared.address, cli: prepared.cli, uiUrl: ui?.url ?? null, stop };
}

// ---------------------------------------------------------------------------------------------
// The application's side of npm run cluster

/** The application's store when DATABASE_URL is unset: a database of its own beside Temporal's. */
const APP_DATABASE = 'segment_export';

/**
 * The names of the cluster's databases: Temporal's two and the store's, each after
 * CLUSTER_DATABASE_PREFIX (none by default), so that two clusters can share one PostgreSQL server.
 */
function clusterDatabases(prefix = '') {
  if (!/^[a-z0-9_]*$/.test(prefix)) throw new Error(`CLUSTER_DATABASE_PREFIX may hold only a-z, 0-9 and _ (got ${prefix})`);
  return { temporal: `${prefix}${DEFAULT_DATABASES.temporal}`, visibility: `${prefix}${DEFAULT_DATABASES.visibility}`, app: `${prefix}${APP_DATABASE}` };
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

module.exports = {
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
  prepareTemporalCluster,
  startTemporalCluster,
  clusterDatabases,
  ensureAppDatabase,
};
