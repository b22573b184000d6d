'use strict';
/**
 * Building Go programs into a cache directory: the one runner behind the Temporal CLI
 * (scripts/temporal-cli.js) and the Temporal server, SQL tool and UI (scripts/temporal-server.js).
 * Plain CommonJS without dependencies (runs before `npm install`).
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { pidAlive } = require('./processes.js');

const TAIL_LINES = 40;
const HEARTBEAT_MS = 30_000;

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

/** The `go` binary; without one, an error saying what it was needed for and what else would do. */
function requireGo(what, orElse) {
  const go = findGo();
  if (!go) throw new Error(`the Go toolchain is not installed: install Go (https://go.dev/dl/) to build ${what}${orElse ? `, or ${orElse}` : ''}`);
  return go;
}

const seconds = (since) => Math.round((Date.now() - since) / 1000);

/** Removes the temporary directories of builds whose process is gone (a build that was killed). */
function removeStaleBuilds(dir) {
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    const m = /^\.build-(\d+)-/.exec(name);
    if (m && !pidAlive(Number(m[1]))) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Runs `go args…` with GOBIN=`gobin`; resolves its exit code and its last lines of output. */
function runGo(go, args, { gobin, cwd, onBeat }) {
  return new Promise((resolve, reject) => {
    const tail = [];
    const child = spawn(go, args, {
      cwd,
      env: { ...process.env, CGO_ENABLED: '0', GOBIN: gobin, GOFLAGS: [process.env.GOFLAGS, '-buildvcs=false'].filter(Boolean).join(' ') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk) => {
      tail.push(...chunk.toString().split('\n').filter((l) => l.trim()));
      tail.splice(0, Math.max(0, tail.length - TAIL_LINES));
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const beat = setInterval(onBeat, HEARTBEAT_MS);
    child.once('error', (err) => {
      clearInterval(beat);
      reject(err);
    });
    child.once('close', (code) => {
      clearInterval(beat);
      resolve({ code, tail });
    });
  });
}

/**
 * `CGO_ENABLED=0 go install <targets>` into a temporary directory inside `dir`, then each built
 * binary renamed into `dir` (`binaries`: the name go gives it → its name in `dir`), so a killed
 * build leaves no half-written binary; the next build removes what it left. `verify(file)`, when
 * given, throws if a built binary does not run; `orElse` says what would do instead of Go. Logs
 * the start, a line every 30 s and the end.
 */
async function goInstall({ what, targets, dir, binaries, ldflags = '-s -w', cwd, verify, orElse, log }) {
  const go = requireGo(what, orElse);
  fs.mkdirSync(dir, { recursive: true });
  removeStaleBuilds(dir);
  const tmp = fs.mkdtempSync(path.join(dir, `.build-${process.pid}-`));
  const started = Date.now();
  log(`building ${what} with \`go install ${targets.join(' ')}\` (first run only; this takes several minutes)`);
  try {
    const onBeat = () => log(`still building ${what} (${seconds(started)} s)`);
    const { code, tail } = await runGo(go, ['install', `-ldflags=${ldflags}`, ...targets], { gobin: tmp, cwd, onBeat });
    if (code !== 0) throw new Error(`go install ${targets.join(' ')} exited with ${code}:\n${tail.join('\n')}`);
    const missing = Object.keys(binaries).filter((built) => !isExecutable(path.join(tmp, built)));
    if (missing.length) throw new Error(`go install ${targets.join(' ')} built no ${missing.join(', ')}`);
    for (const built of Object.keys(binaries)) verify?.(path.join(tmp, built));
    for (const [built, name] of Object.entries(binaries)) fs.renameSync(path.join(tmp, built), path.join(dir, name));
    log(`built ${what} in ${seconds(started)} s: ${dir}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

module.exports = { isExecutable, findOnPath, findGo, requireGo, goInstall };
