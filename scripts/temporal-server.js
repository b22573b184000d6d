'use strict';
/**
 * The binaries of a production-shaped Temporal deployment, built once from the Go module proxy and
 * cached outside the repository (like the CLI in scripts/temporal.js):
 *
 * - `temporal-server` and `temporal-sql-tool`: go.temporal.io/server v1.29.1 (the server inside CLI
 *   v1.5.1, and the temporalio/server image of docker-compose.yml);
 * - `temporal-ui-server`: github.com/temporalio/ui-server/v2 v2.42.1 (the UI inside CLI v1.5.1, and
 *   the temporalio/ui image), which serves the Web UI for a server at TEMPORAL_ADDRESS.
 *
 * Cache: <XDG_CACHE_HOME or ~/.cache>/segment-export/temporal-server/v1.29.1/. Plain CommonJS
 * without dependencies.
 *
 * Usage as a command: node scripts/temporal-server.js ensure   (prints the cache directory)
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const temporal = require('./temporal.js');

const SERVER_VERSION = '1.29.1';
const UI_VERSION = '2.42.1';
const SERVER_MODULE = 'go.temporal.io/server';
const UI_MODULE = 'github.com/temporalio/ui-server/v2';

/** What `go install` builds, and the names the binaries get in the cache. */
const BUILDS = Object.freeze([
  {
    module: SERVER_MODULE,
    version: SERVER_VERSION,
    packages: { server: 'temporal-server', sql: 'temporal-sql-tool' },
    paths: ['cmd/server', 'cmd/tools/sql'],
  },
  { module: UI_MODULE, version: UI_VERSION, packages: { server: 'temporal-ui-server' }, paths: ['cmd/server'] },
]);

const defaultLog = (msg) => process.stderr.write(`[temporal-server] ${msg}\n`);

function binDir() {
  return path.join(path.dirname(temporal.cacheRoot()), 'temporal-server', `v${SERVER_VERSION}`);
}

function binaries() {
  const dir = binDir();
  return { dir, server: path.join(dir, 'temporal-server'), sqlTool: path.join(dir, 'temporal-sql-tool'), ui: path.join(dir, 'temporal-ui-server') };
}

function goBinary() {
  const go = temporal.findGo();
  if (!go) throw new Error(`the Go toolchain is not installed: install Go (https://go.dev/dl/) to build Temporal server ${SERVER_VERSION}`);
  return go;
}

/** `go install` of one module's packages into a temporary directory, then renamed into the cache. */
async function goInstall(build, { log }) {
  const go = goBinary();
  const dir = binDir();
  fs.mkdirSync(dir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(dir, `.build-${process.pid}-`));
  const targets = build.paths.map((p) => `${build.module}/${p}@v${build.version}`);
  const started = Date.now();
  log(`building ${Object.values(build.packages).join(' and ')} with \`go install ${targets.join(' ')}\` (first run only; many minutes on a small machine)`);
  const tail = [];
  const beat = setInterval(() => log(`still building (${Math.round((Date.now() - started) / 1000)} s)`), 30000);
  try {
    const code = await new Promise((resolve, reject) => {
      const child = spawn(go, ['install', '-ldflags=-s -w', ...targets], {
        env: { ...process.env, CGO_ENABLED: '0', GOBIN: tmp, GOFLAGS: [process.env.GOFLAGS, '-buildvcs=false'].filter(Boolean).join(' ') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const keep = (chunk) => {
        tail.push(...chunk.toString().split('\n').filter((l) => l.trim()));
        tail.splice(0, Math.max(0, tail.length - 40));
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) throw new Error(`go install ${targets.join(' ')} exited with ${code}:\n${tail.join('\n')}`);
    for (const [built, name] of Object.entries(build.packages)) fs.renameSync(path.join(tmp, built), path.join(dir, name));
    log(`built in ${Math.round((Date.now() - started) / 1000)} s: ${dir}`);
  } finally {
    clearInterval(beat);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Removes temporary build directories whose build process is gone (a killed build). */
function removeStaleBuilds() {
  const dir = binDir();
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    const m = /^\.build-(\d+)-/.exec(name);
    if (m && !temporal.pidAlive(Number(m[1]))) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/**
 * The three binaries, built when missing. Resolves `{dir, server, sqlTool, ui}`. Builds one module at
 * a time: the 2-core machines this runs on gain nothing from two parallel Go builds.
 */
async function ensureTemporalServer({ log = defaultLog } = {}) {
  removeStaleBuilds();
  for (const build of BUILDS) {
    const missing = Object.values(build.packages).some((name) => !temporal.isExecutable(path.join(binDir(), name)));
    if (missing) await goInstall(build, { log });
  }
  return binaries();
}

/** The directory of a module version in the Go module cache (downloaded through the proxy if missing). */
function moduleDir(module, version) {
  const r = spawnSync(goBinary(), ['mod', 'download', '-json', `${module}@v${version}`], { encoding: 'utf8', timeout: 600000 });
  let info = {};
  try {
    info = JSON.parse(r.stdout || '{}');
  } catch {
    /* reported below */
  }
  if (r.status !== 0 || !info.Dir) throw new Error(`go mod download ${module}@v${version} failed: ${info.Error || r.stderr || r.stdout}`);
  return info.Dir;
}

/** PostgreSQL schema files of the server version: <dir>/temporal/versioned and <dir>/visibility/versioned. */
function postgresSchemaDir() {
  return path.join(moduleDir(SERVER_MODULE, SERVER_VERSION), 'schema', 'postgresql', 'v12');
}

module.exports = { SERVER_VERSION, UI_VERSION, binaries, ensureTemporalServer, postgresSchemaDir };

if (require.main === module) {
  if (process.argv[2] !== 'ensure') {
    process.stderr.write('usage: node scripts/temporal-server.js ensure\n');
    process.exit(2);
  }
  ensureTemporalServer().then(
    (b) => process.stdout.write(`${b.dir}\n`),
    (err) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
