import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { parseConfig } from '../../common/config';
import { autogroupNice, sessionId } from '../../common/priority';

/** Makes `call` on the built `module` in a fresh thread; that thread’s priority after it. */
async function threadPriorityAfter(module: string, call: string): Promise<number> {
  const script = path.resolve(__dirname, '..', '..', 'dist', module);
  const worker = new Worker(
    `const os = require('node:os'); require(${JSON.stringify(script)}).${call}; require('node:worker_threads').parentPort.postMessage(os.getPriority());`,
    { eval: true },
  );
  try {
    return await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}

/**
 * The store's threads (a refresh, a snapshot's sort) run at a lower priority than their process,
 * and only they: the event loop that answers requests keeps its own.
 */
test('a store thread lowers its own priority, not its process’s', async () => {
  const before = os.getPriority();
  expect(await threadPriorityAfter('store/thread-script.js', 'runInBackground()')).toBe(Math.min(19, before + 10));
  expect(os.getPriority()).toBe(before);
});

test('lowering by 0 keeps the priority; lowering past the lowest stops at it', async () => {
  const before = os.getPriority();
  const lowered = (by: number) => threadPriorityAfter('common/priority.js', `lowerPriority(${by})`);
  expect(await lowered(0)).toBe(before);
  expect(await lowered(3)).toBe(Math.min(19, before + 3));
  expect(await lowered(40)).toBe(19);
  expect(os.getPriority()).toBe(before);
});

test('WORKER_NICE: 10 unless set, 0 to 19, anything else refused', () => {
  expect(parseConfig({}).workerNice).toBe(10);
  expect(parseConfig({ WORKER_NICE: '0' }).workerNice).toBe(0);
  expect(parseConfig({ WORKER_NICE: '19' }).workerNice).toBe(19);
  for (const bad of ['20', '-1', '2.5', 'low']) expect(() => parseConfig({ WORKER_NICE: bad })).toThrow(/WORKER_NICE/);
});

/** Runs `lowerProcessPriority(by)` from the built module in a new node process; what /proc/self/autogroup says after it. */
async function autogroupAfterLowering(by: number, ownSession: boolean, uid?: number): Promise<string> {
  const script = path.resolve(__dirname, '..', '..', 'dist', 'common', 'priority.js');
  const code = `require(${JSON.stringify(script)}).lowerProcessPriority(${by}).then(() => process.stdout.write(require('node:fs').readFileSync('/proc/self/autogroup', 'utf8')))`;
  const child = spawn(process.execPath, ['-e', code], { detached: ownSession, stdio: ['ignore', 'pipe', 'inherit'], ...(uid === undefined ? {} : { uid }) });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(exitCode).toBe(0);
  return out;
}

const autogroupKnown = fs.existsSync('/proc/self/autogroup');

/**
 * `npm start` starts the worker in a session of its own; with autogroup the kernel shares the
 * cores between sessions before any thread's nice counts, so the worker lowers its session too.
 */
test('a process that leads its own session lowers the session’s share as well; one in another’s session leaves it', async () => {
  expect(autogroupKnown).toBe(process.platform === 'linux');
  if (!autogroupKnown) return;
  const ours = autogroupNice(fs.readFileSync('/proc/self/autogroup', 'utf8'));
  expect(autogroupNice(await autogroupAfterLowering(7, true))).toBe(Math.min(19, (ours ?? 0) + 7));
  expect(autogroupNice(await autogroupAfterLowering(7, false))).toBe(ours);
  expect(autogroupNice(fs.readFileSync('/proc/self/autogroup', 'utf8'))).toBe(ours);
  expect(autogroupNice(await autogroupAfterLowering(0, true))).toBe(0);
});

/** Without privilege the kernel takes one such change a tenth of a second from all processes; as root the children run as `nobody`. */
test('services that start at the same moment, unprivileged, each lower their own session', async () => {
  if (!autogroupKnown) return;
  const unprivileged = process.getuid?.() === 0 ? 65534 : undefined;
  const after = await Promise.all([1, 2, 3, 4, 5, 6].map(() => autogroupAfterLowering(5, true, unprivileged)));
  expect(after.map(autogroupNice)).toEqual([5, 5, 5, 5, 5, 5]);
});

test('reads the session id and the autogroup’s nice from /proc’s texts', () => {
  expect(sessionId('4321 (node (a) b) S 1 4321 4300 0 -1 4194304')).toBe(4300);
  expect(autogroupNice('/autogroup-86 nice 0\n')).toBe(0);
  expect(autogroupNice('/autogroup-7 nice -5')).toBe(-5);
  expect(autogroupNice('')).toBeUndefined();
});
