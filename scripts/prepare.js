'use strict';
/**
 * Getting ready to run anything: the dependencies (npm ci when node_modules is missing) and the
 * TypeScript build (tsc into dist/, only when a source is newer than the last build).
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { ROOT, readIfExists } = require('./environment.js');
const { pidAlive } = require('./processes.js');
const { say, warn } = require('./logs.js');

/** Folders tsc compiles (tsconfig.build.json); a change under them means dist is stale. */
const SOURCE_DIRS = ['api', 'workflows', 'activities', 'worker', 'store', 'constant-contact', 'sandbox', 'common', 'bench', 'scripts'];
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];

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
      if ((owner && !pidAlive(owner)) || Date.now() > deadline) {
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

/** Dependencies installed and dist/ up to date, or an error. */
async function prepare() {
  ensureDependencies();
  if (!ensureBuild()) throw new Error('the TypeScript build failed (see the errors above)');
}

module.exports = { ensureDependencies, buildIsStale, ensureBuild, prepare };
