import { once } from 'node:events';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { lowerPriority } from '../common/priority';

/**
 * The compiled file a worker thread of the store runs. The tests run the TypeScript sources; a
 * thread then runs the build of the same file (npm test builds first).
 */
export function threadScript(name: string): string {
  return __filename.endsWith('.ts') ? path.resolve(__dirname, '..', 'dist', 'store', `${name}.js`) : path.join(__dirname, `${name}.js`);
}

/** Asks a store thread to finish what it is doing and close its connection; resolves when it has exited. */
export async function closeThread(worker: Worker): Promise<void> {
  const exited = once(worker, 'exit');
  worker.postMessage('close');
  await exited;
}

/** How much lower than its process a store thread, or a database session doing a store job, runs (a nice value). */
export const BACKGROUND_NICE = 10;

/**
 * Called first in a store thread: its long work (a refresh, a snapshot's sort) gets a core only
 * when the process's event loop and the rest of the machine leave one, so the API keeps answering
 * on a busy machine.
 */
export function runInBackground(): void {
  lowerPriority(BACKGROUND_NICE);
}
