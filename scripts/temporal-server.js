'use strict';
/**
 * The binaries of a production-shaped Temporal deployment, built once from the Go module proxy and
 * cached outside the repository, like the CLI (scripts/temporal-cli.js; both by scripts/go-build.js):
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
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { goInstall, isExecutable, requireGo } = require('./go-build.js');
const { cacheRoot } = require('./temporal-cli.js');

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
  return path.join(path.dirname(cacheRoot()), 'temporal-server', `v${SERVER_VERSION}`);
}

function binaries() {
  const dir = binDir();
  return { dir, server: path.join(dir, 'temporal-server'), sqlTool: path.join(dir, 'temporal-sql-tool'), ui: path.join(dir, 'temporal-ui-server') };
}

/**
 * The three binaries, built when missing. Resolves `{dir, server, sqlTool, ui}`. Builds one module at
 * a time: the 2-core machines this runs on gain nothing from two parallel Go builds.
 */
async function ensureTemporalServer({ log = defaultLog } = {}) {
  const dir = binDir();
  for (const build of BUILDS) {
    if (Object.values(build.packages).every((name) => isExecutable(path.join(dir, name)))) continue;
    const targets = build.paths.map((p) => `${build.module}/${p}@v${build.version}`);
    await goInstall({ what: Object.values(build.packages).join(' and '), targets, dir, binaries: build.packages, log });
  }
  return binaries();
}

/** The directory of a module version in the Go module cache (downloaded through the proxy if missing). */
function moduleDir(module, version) {
  const r = spawnSync(requireGo(`Temporal server ${SERVER_VERSION}`), ['mod', 'download', '-json', `${module}@v${version}`], { encoding: 'utf8', timeout: 600000 });
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
