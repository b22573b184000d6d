'use strict';
/**
 * Processes and ports for the scripts: host:port parsing, free ports, stopping a process (group)
 * with SIGTERM then SIGKILL, and the watchdog that cleans up after an owner killed without warning.
 * Plain CommonJS without dependencies (runs before `npm install`).
 */
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function parseAddress(address) {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address.trim());
  if (!m) throw new Error(`not a host:port address: ${address}`);
  return { host: m[1], port: Number(m[2]) };
}

function isLocalHost(host) {
  return ['127.0.0.1', 'localhost', '0.0.0.0', '::1', ''].includes(host);
}

/** Resolves true when something accepts TCP connections at host:port. */
function isListening(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: host === '0.0.0.0' || host === '' ? '127.0.0.1' : host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A TCP port that is free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a TCP server can listen on 127.0.0.1:port right now. */
function canListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function processGone(pid) {
  return !pidAlive(pid);
}

/**
 * Stops a process: SIGTERM, then SIGKILL after `graceMs`. With `group`, signals the whole process
 * group (the process was spawned detached). With `child` (a ChildProcess), waits for its exit event.
 */
async function stopProcess({ pid, child, group = false, graceMs = 10000, signal = 'SIGTERM' }) {
  pid = pid ?? child?.pid;
  if (!pid) return;
  const exited = () => (child ? child.exitCode !== null || child.signalCode !== null : processGone(pid));
  const send = (sig) => {
    try {
      process.kill(group ? -pid : pid, sig);
    } catch {
      /* already gone */
    }
  };
  if (exited()) {
    if (group) send('SIGKILL'); // stragglers in the group
    return;
  }
  const exitPromise = child ? new Promise((r) => child.once('exit', r)) : null;
  send(signal);
  const deadline = Date.now() + graceMs;
  while (!exited() && Date.now() < deadline) {
    await Promise.race([sleep(100), exitPromise].filter(Boolean));
  }
  if (!exited() || group) send('SIGKILL');
  const hardDeadline = Date.now() + 5000;
  while (!exited() && Date.now() < hardDeadline) await sleep(50);
}

/**
 * Starts a detached watchdog that stops the given process groups when `ownerPid` dies (for example
 * when a test runner or `npm start` is killed with SIGKILL and cannot clean up).
 */
function startWatchdog(ownerPid, pids) {
  const child = spawn(process.execPath, [path.join(__dirname, 'watchdog.js'), String(ownerPid), ...pids.map(String)], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child;
}

module.exports = { pidAlive, parseAddress, isLocalHost, isListening, freePort, canListen, sleep, stopProcess, startWatchdog };
