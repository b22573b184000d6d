import { parentPort, workerData } from 'node:worker_threads';
import { runInBackground } from './thread-script';
import { openSqlite } from './db';
import { inlineJobs } from './jobs';
import { toJobError, type JobReply, type JobRequest } from './offload';
import { ensureSqliteFunctions } from './rules';

// The worker thread of store/offload.ts: its own connection to the SQLite file, which may wait for
// the write lock by blocking (this thread does nothing else), running the jobs it is sent.

runInBackground();
const port = parentPort!;
const db = openSqlite((workerData as { file: string }).file, { lockWait: 'block' });
ensureSqliteFunctions(db);
const runner = inlineJobs(db);
const running = new Set<Promise<void>>();

port.on('message', (message: JobRequest | 'close') => {
  if (message === 'close') {
    void Promise.allSettled([...running]).then(async () => {
      await db.close();
      port.close();
    });
    return;
  }
  const job = runner.run(message.name, message.args as never).then(
    (result) => port.postMessage({ id: message.id, result } satisfies JobReply),
    (err: unknown) => port.postMessage({ id: message.id, error: toJobError(err) } satisfies JobReply),
  );
  running.add(job);
  void job.finally(() => running.delete(job));
});
