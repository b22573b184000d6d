'use strict';
/**
 * Supervision of the child processes: `npm start`'s children (each in its own process group, with
 * prefixed output; when one exits the others are stopped; Ctrl-C stops them in order, a second
 * Ctrl-C kills at once; a watchdog cleans up if this process is killed) and the one foreground
 * child of `npm run worker|api|sandbox|bench|demo`.
 */
const os = require('node:os');
const http = require('node:http');
const { spawn } = require('node:child_process');
const { ROOT } = require('./environment.js');
const { say, warn, pipeLines } = require('./logs.js');
const { startWatchdog, stopProcess } = require('./processes.js');

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Spawns `node <entry>` in its own process group with prefixed output. */
function spawnApp(name, entry, env, args = []) {
  const child = spawn(process.execPath, [entry, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  pipeLines(child.stdout, name, process.stdout);
  pipeLines(child.stderr, name, process.stderr);
  child.on('error', (err) => warn(`${name}: ${err.message}`));
  return child;
}

function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/**
 * The children of `npm start` and its Temporal dev server. `start()` spawns one; `stopAll(code)`
 * stops API and workers first (they drain), then the sandbox, then Temporal, and exits with `code`.
 * Signals are handled from creation on.
 */
function createSupervisor() {
  const children = []; // {name, child} in start order; stopped in reverse
  let server = null;
  let watchdog = null;
  let stopping = false;
  let interrupts = 0;

  const stopAll = async (code) => {
    if (stopping) return;
    stopping = true;
    say('\nStopping...');
    const apps = children.slice().reverse();
    await Promise.all(apps.filter((c) => c.name !== 'sandbox').map((c) => stopProcess({ child: c.child, group: true, graceMs: 15000 })));
    await Promise.all(apps.filter((c) => c.name === 'sandbox').map((c) => stopProcess({ child: c.child, group: true, graceMs: 5000 })));
    if (server) await server.stop();
    if (watchdog) stopProcess({ pid: watchdog.pid, graceMs: 1000 });
    say('Stopped.');
    process.exit(code);
  };

  const onSignal = () => {
    interrupts += 1;
    if (interrupts > 1) {
      warn('second interrupt: killing everything now');
      for (const c of children) killGroup(c.child.pid);
      if (server?.pid) killGroup(server.pid);
      process.exit(130);
    }
    void stopAll(0);
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);

  return {
    get stopping() {
      return stopping;
    },
    /** The Temporal dev server, stopped last. */
    setServer(s) {
      server = s;
    },
    /** Spawns `node entry`; when it exits on its own, everything stops. */
    start(name, entry, env) {
      const child = spawnApp(name, entry, env);
      children.push({ name, child });
      child.on('exit', (code, signal) => {
        if (stopping) return;
        warn(`${name} exited (${signal || code}); stopping everything`);
        void stopAll(code || 1);
      });
      return child;
    },
    /** From now on a watchdog stops every child should this process be killed. */
    watch() {
      watchdog = startWatchdog(process.pid, [...children.map((c) => -c.child.pid), ...(server?.pid ? [-server.pid] : [])]);
    },
    stopAll,
  };
}

/** Runs `node entry args` with inherited stdio, forwarding SIGINT/SIGTERM; exits with its code. */
function runForeground(entry, args, env = process.env) {
  return new Promise((resolve) => {
    // Its own process group (so a terminal's Ctrl-C is forwarded once); no stdin, which a background
    // process group could not read anyway.
    const child = spawn(process.execPath, [entry, ...args], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    const forward = (sig) => () => {
      try {
        process.kill(child.pid, sig);
      } catch {
        /* gone */
      }
    };
    const handlers = SIGNALS.map((sig) => [sig, forward(sig)]);
    for (const [sig, h] of handlers) process.on(sig, h);
    const watchdog = startWatchdog(process.pid, [-child.pid]);
    child.on('exit', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      stopProcess({ pid: watchdog.pid, graceMs: 1000 });
      resolve(code ?? (signal ? 128 + (os.constants.signals[signal] || 1) : 1));
    });
  });
}

function httpGet(url, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        if (body.length < 4096) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

module.exports = { createSupervisor, runForeground, httpGet, spawnApp };
