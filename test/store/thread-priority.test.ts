import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

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
