import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { parseConfig } from '../../common/config';

/**
 * The store's threads (a refresh, a snapshot's sort) run at a lower priority than their process,
 * and only they: the event loop that answers requests keeps its own.
 */
test('a store thread lowers its own priority, not its process’s', async () => {
  const script = path.resolve(__dirname, '..', '..', 'dist', 'store', 'thread-script.js');
  const before = os.getPriority();
  const worker = new Worker(
    `const os = require('node:os'); require(${JSON.stringify(script)}).runInBackground(); require('node:worker_threads').parentPort.postMessage(os.getPriority());`,
    { eval: true },
  );
  const inThread = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  expect(inThread).toBe(Math.min(19, before + 10));
  expect(os.getPriority()).toBe(before);
});

/** Runs `lowerPriority(by)` in a fresh thread; the thread's priority after it. */
async function priorityAfterLowering(by: number): Promise<number> {
  const script = path.resolve(__dirname, '..', '..', 'dist', 'common', 'priority.js');
  const worker = new Worker(
    `const os = require('node:os'); require(${JSON.stringify(script)}).lowerPriority(${by}); require('node:worker_threads').parentPort.postMessage(os.getPriority());`,
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

test('lowering by 0 keeps the priority; lowering past the lowest stops at it', async () => {
  const before = os.getPriority();
  expect(await priorityAfterLowering(0)).toBe(before);
  expect(await priorityAfterLowering(3)).toBe(Math.min(19, before + 3));
  expect(await priorityAfterLowering(40)).toBe(19);
  expect(os.getPriority()).toBe(before);
});

test('WORKER_NICE: 10 unless set, 0 to 19, anything else refused', () => {
  const base = {};
  expect(parseConfig(base).workerNice).toBe(10);
  expect(parseConfig({ ...base, WORKER_NICE: '0' }).workerNice).toBe(0);
  expect(parseConfig({ ...base, WORKER_NICE: '19' }).workerNice).toBe(19);
  for (const bad of ['20', '-1', '2.5', 'low']) expect(() => parseConfig({ ...base, WORKER_NICE: bad })).toThrow(/WORKER_NICE/);
});
