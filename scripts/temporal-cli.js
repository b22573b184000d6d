'use strict';
/**
 * Finding or building the Temporal CLI. Plain CommonJS without dependencies (runs before
 * `npm install`): a `temporal` v1.5.1 on PATH, else the cached build, else it is built once from
 * the Go module proxy into a per-version cache directory outside the repository.
 */
const path = require('node:path');
const os = require('node:os');
const { spawnSync } = require('node:child_process');
const { findGo, findOnPath, goInstall, isExecutable } = require('./go-build.js');

const CLI_VERSION = '1.5.1';
const FALLBACK_VERSIONS = ['1.5.0', '1.4.1'];
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

const defaultLog = (msg) => process.stderr.write(`[temporal] ${msg}\n`);

function cacheRoot() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'segment-export', 'temporal-cli');
}

function cachedCliPath(version) {
  return path.join(cacheRoot(), `v${version}`, 'temporal');
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

/**
 * `go install github.com/temporalio/cli/cmd/temporal@v<version>` into the cache (scripts/go-build.js:
 * a killed build leaves no half binary), its version stamped at link time. Resolves its path.
 */
async function buildTemporalCli(version, { log = defaultLog } = {}) {
  const dest = cachedCliPath(version);
  await goInstall({
    what: `Temporal CLI v${version}`,
    targets: [`${CLI_MODULE}@v${version}`],
    ldflags: `-s -w -X github.com/temporalio/cli/temporalcli.Version=${version}`,
    dir: path.dirname(dest),
    binaries: { temporal: path.basename(dest) },
    verify: (built) => {
      const check = spawnSync(built, ['--version'], { encoding: 'utf8', env: cliEnv() });
      if (check.status !== 0) throw new Error(`the built binary does not run: ${check.stderr}`);
    },
    orElse: `put temporal v${CLI_VERSION} on PATH`,
    log,
  });
  return dest;
}

module.exports = {
  CLI_VERSION,
  FALLBACK_VERSIONS,
  defaultLog,
  cacheRoot,
  cachedCliPath,
  cliEnv,
  cliVersionOf,
  findTemporalCli,
  ensureTemporalCli,
  buildTemporalCli,
};
