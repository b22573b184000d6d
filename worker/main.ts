import v8 from 'node:v8';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfigOrExit } from '../common/config';
import { lowerProcessPriority } from '../common/priority';
import { openConfiguredStore } from '../store';
import { createLogger } from '../common/logger';
import { createConstantContactClient } from '../constant-contact/client';
import { createActivities } from '../activities';
import { constantContactObserver } from '../services/events';
import { workflowBundlePath } from './workflow-bundle';
import { installRuntime } from './metrics';
import { startRetentionJob } from '../services/retention';
import { startRunReconciler } from '../services/run-reconcile';

/** Wires configuration, connections and the activities; nothing else. */
async function main(): Promise<void> {
  // An upload leaves ~20 MB of short-lived data per chunk: grow the heap by 30% past the live size
  // instead of V8's up to 4x, so the worker's memory follows its work (1M profiles under 400 MB).
  v8.setFlagsFromString('--heap-growing-percent=30');
  const config = loadConfigOrExit();
  // Every thread, before the SDK starts its own (which inherit it): where the worker shares cores
  // with the API (npm start, one machine), a run's batch work waits and requests do not. Its
  // session's share follows in the background (it may wait on the kernel; it never fails).
  void lowerProcessPriority(config.workerNice);
  const logger = createLogger(config.logLevel, 'worker');
  const metrics = installRuntime(config);
  const store = await openConfiguredStore(config, logger, { processName: 'worker', sessionNice: config.workerNice });
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  // The activities start webhook deliveries through this client (events, services/events.ts).
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const observer = constantContactObserver({ config, store, temporal, logger, metrics });
  const constantContact = createConstantContactClient({ config: config.constantContact, tokens: store.tokens, rateLimits: store.rateLimits, logger, observer });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    // Bundled once per workflow code version, outside this process (worker/workflow-bundle.ts).
    workflowBundle: { codePath: await workflowBundlePath(require.resolve('../workflows'), (msg) => logger.info(msg)) },
    activities: createActivities({ config, store, constantContact, logger, clock: () => new Date(), temporal, metrics }),
  });
  logger.info({ taskQueue: config.temporal.taskQueue, address: config.temporal.address, metrics: config.metrics.workerAddress ?? null }, 'worker started');
  const retention = startRetentionJob({ store, logger, retentionDays: config.personalDataRetentionDays });
  // Ends run records whose workflow closed without ending them (terminated from the UI, timed out).
  const reconciler = startRunReconciler({ config, store, temporal, logger, metrics }, config.runs.reconcileIntervalMs);
  // Worker.run() shuts down gracefully on SIGTERM/SIGINT (the SDK installs those handlers).
  await worker.run();
  retention.stop();
  reconciler.stop();
  await connection.close();
  await store.close();
  logger.info('worker stopped');
}

main().catch((err) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
