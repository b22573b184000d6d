import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { parseConfig } from '../../common/config';

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
