'use strict';
/**
 * Child processes for the scripts: the supervisor of `npm start` (the Temporal dev server, the
 * sandbox, the worker and the API) and of `npm run cluster` (the Temporal server and its UI, the
 * workers, the APIs, the sandbox), which keeps them up under one restart policy, and the foreground
 * runner of `npm run worker|api|sandbox|bench|demo`.
 */
const os = require('node:os');
const http = require('node:http');
const { spawn } = require('node:child_process');
const { ROOT } = require('./environment.js');
const { formatLine, say, warn, pipeLines } = require('./logs.js');
const { sleep, startWatchdog, stopProcess } = require('./processes.js');

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * One restart policy for every child. A child that exits on its own is started again after a delay
 * that doubles with each recent exit (0.5 s, 1 s, 2 s, 4 s): a one-off crash costs half a second,
 * and a crash loop does not keep two cores busy. Five exits within a minute mean it will not stay up
 * by itself (a port taken, a bad setting, a broken build): everything stops with a message naming
 * it, rather than restarting it forever behind a stream of log lines.
 */
const RESTART_POLICY = Object.freeze({ maxExits: 5, windowMs: 60_000, firstDelayMs: 500, maxDelayMs: 8_000 });

/**
 * Given the times a child exited on its own (the newest last), whether to give up or after how long
 * to start it again. Exits older than the window are forgotten, so a child that crashes once a day
 * is always restarted at once.
 */
function restartDecision(exitTimes, now, policy = RESTART_POLICY) {
  const recent = exitTimes.filter((t) => now - t < policy.windowMs);
  if (recent.length >= policy.maxExits) return { giveUp: true, recent };
  return { giveUp: false, recent, delayMs: Math.min(policy.firstDelayMs * 2 ** (recent.length - 1), policy.maxDelayMs) };
}

/**
 * What differs by kind of child: the stage it stops in (API and workers drain first, then the
 * sandbox and the Temporal UI, then Temporal, which the others need until they are gone), how long
 * a `node` child may take to stop, and what a restart means for whoever uses it.
 */
const KINDS = Object.freeze({
  api: { stage: 0, graceMs: 15_000 },
  worker: { stage: 0, graceMs: 15_000 },
  sandbox: {
    stage: 1,
    graceMs: 5_000,
    restarted:
      'its account starts empty (the sandbox keeps it in memory): connections authorized before fail with ' +
      'needs_reauthorization until an admin authorizes them again (POST /v1/connections/{id}/reauthorize, ' +
      'then open the authorizeUrl); its contacts and every list but the default list are gone',
  },
  'temporal-ui': { stage: 1 },
  temporal: {
    stage: 2,
    restarted: 'on the same database file: runs, schedules and histories are kept; the worker and the API reconnect by themselves',
  },
});
const DEFAULT_KIND = Object.freeze({ stage: 0, graceMs: 15_000 });

/** Spawns `node <entry>` in its own process group with prefixed output. */
function spawnApp(name, entry, env, args = []) {
  const child = spawn(process.execPath, [entry, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  pipeLines(child.stdout, name, process.stdout);
  pipeLines(child.stderr, name, process.stderr);
  child.on('error', (err) => warn(`${name}: ${err.message}`));
  return child;
}

/** The last lines a child wrote (both streams), to repeat when it is given up on. */
function keepTail(child, max = 5) {
  const lines = [];
  const add = (chunk) => {
    lines.push(...String(chunk).split('\n').filter((l) => l.trim()));
    lines.splice(0, Math.max(0, lines.length - max));
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => lines.slice();
}

function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

const exited = (child) => child.exitCode !== null || child.signalCode !== null;

/** The kind of a child named `name`: `kind` (a key of KINDS, the name by default), `restarted` instead of its own. */
function kindOf(name, { kind = name, restarted } = {}) {
  return { ...(KINDS[kind] ?? DEFAULT_KIND), ...(restarted ? { restarted } : {}) };
}

/**
 * The children of `npm start` and `npm run cluster`. `supervise(name, launch, options)` starts one
 * (launch resolves to `{child, stop(), lastLines?(), logFile?}`; without a child, as for a Temporal
 * server found already running, there is nothing to watch) and restarts it under RESTART_POLICY
 * whenever it exits on its own; `start(name, entry, env, options)` does that for `node entry`
 * (options: see kindOf). `stopAll(code)` stops them stage by stage and exits with `code`. Signals
 * are handled from creation on: the first stops everything, the second kills at once. A watchdog,
 * renewed at every (re)start, stops every child should this process be killed without a chance to
 * clean up.
 */
function createSupervisor() {
  const units = []; // {name, kind, launch, handle, exitTimes, timer}
  let watchdog = null;
  let stopping = false;
  let interrupts = 0;

  const renewWatchdog = () => {
    const groups = units.filter((u) => u.handle?.child).map((u) => -u.handle.child.pid);
    const previous = watchdog;
    watchdog = groups.length ? startWatchdog(process.pid, groups) : null;
    if (previous) void stopProcess({ pid: previous.pid, graceMs: 1000 });
  };

  const stopAll = async (code) => {
    if (stopping) return;
    stopping = true;
    say('\nStopping...');
    for (const u of units) clearTimeout(u.timer);
    const stages = [...new Set(units.map((u) => u.kind.stage))].sort((a, b) => a - b);
    for (const stage of stages) {
      await Promise.all(units.filter((u) => u.kind.stage === stage && u.handle).map((u) => u.handle.stop()));
    }
    if (watchdog) void stopProcess({ pid: watchdog.pid, graceMs: 1000 });
    say('Stopped.');
    process.exit(code);
  };

  const onExit = (unit, why) => {
    if (stopping) return;
    const lastLines = unit.handle?.lastLines?.() ?? [];
    const logFile = unit.handle?.logFile;
    unit.handle = null;
    const now = Date.now();
    const decision = restartDecision([...unit.exitTimes, now], now);
    unit.exitTimes = decision.recent;
    if (decision.giveUp) {
      const seconds = RESTART_POLICY.windowMs / 1000;
      const tail = lastLines.length ? `; its last lines:\n${lastLines.map((l) => `  ${formatLine(unit.name, l)}`).join('\n')}` : '';
      warn(`${unit.name} exited ${decision.recent.length} times within ${seconds} s (last: ${why}); it does not stay up, so everything stops${logFile ? ` (its log: ${logFile})` : ''}${tail}`);
      void stopAll(1);
      return;
    }
    warn(`${unit.name} exited unexpectedly (${why}); restarting it in ${decision.delayMs / 1000} s`);
    unit.timer = setTimeout(() => {
      unit.timer = null;
      launch(unit, true).catch((err) => onExit(unit, err.message));
    }, decision.delayMs);
  };

  const launch = async (unit, restart) => {
    if (stopping) return { stop: async () => {} }; // nothing new once everything is being stopped
    const handle = await unit.launch();
    if (stopping) {
      await handle.stop();
      return handle;
    }
    unit.handle = handle;
    const { child } = handle;
    if (!child) return handle;
    const why = () => child.signalCode || `code ${child.exitCode}`;
    if (exited(child)) {
      onExit(unit, why());
      return handle;
    }
    // Whatever it left in its process group goes with it; its last lines are read before deciding.
    child.once('exit', () => killGroup(child.pid));
    child.once('close', () => {
      if (unit.handle === handle) onExit(unit, why());
    });
    renewWatchdog();
    if (restart) warn(`${unit.name} restarted (pid ${child.pid})${unit.kind.restarted ? `: ${unit.kind.restarted}` : ''}`);
    else say(`${unit.name} started (pid ${child.pid})`);
    return handle;
  };

  const onSignal = () => {
    interrupts += 1;
    if (interrupts > 1) {
      warn('second interrupt: killing everything now');
      for (const u of units) if (u.handle?.child) killGroup(u.handle.child.pid);
      process.exit(130);
    }
    void stopAll(0);
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);

  const supervise = (name, launchFn, options) => {
    const unit = { name, kind: kindOf(name, options), launch: launchFn, handle: null, exitTimes: [], timer: null };
    units.push(unit);
    return launch(unit, false);
  };

  return {
    get stopping() {
      return stopping;
    },
    supervise,
    /** Spawns `node entry` under supervision. */
    start(name, entry, env, options) {
      const { graceMs } = kindOf(name, options);
      const launchApp = async () => {
        const child = spawnApp(name, entry, env);
        return { child, lastLines: keepTail(child), stop: () => stopProcess({ child, group: true, graceMs }) };
      };
      return supervise(name, launchApp, options);
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

/** Waits until the API's /readyz answers 200 (120 s at most), or the supervisor stops. */
async function waitReady(apiUrl, supervisor) {
  const deadline = Date.now() + 120000;
  let last = { status: 0, body: '' };
  while (!supervisor.stopping) {
    last = await httpGet(`${apiUrl}/readyz`);
    if (last.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${apiUrl}/readyz did not answer 200 within 120 s (last: ${last.status} ${last.body})`);
    await sleep(500);
  }
}

module.exports = { createSupervisor, restartDecision, RESTART_POLICY, runForeground, waitReady };
