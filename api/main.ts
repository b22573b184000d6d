import { Client, Connection } from '@temporalio/client';
import { loadConfigOrExit } from '../common/config';
import { openConfiguredStore } from '../store';
import { createLogger } from '../common/logger';
import { createConstantContactClient } from '../constant-contact/client';
import { reconcileSchedules } from '../services/schedule-sync';
import { constantContactObserver } from '../services/events';
import { createApp } from './app';
import { createApiMetrics } from './metrics';
import { createApiServer } from './listener';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel, 'api');
  if (!config.apiKeys?.length) logger.warn('API_KEYS is empty: every /v1 request will answer 401');
  // The API's event loop answers requests: its SQLite connection never checkpoints in a commit.
  const store = await openConfiguredStore(config, logger, { walCheckpoints: 'worker-thread', processName: 'api' });
  const connection = Connection.lazy({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const metrics = createApiMetrics();
  const observer = constantContactObserver({ config, store, temporal, logger, metrics });
  const constantContact = createConstantContactClient({ config: config.constantContact, tokens: store.tokens, rateLimits: store.rateLimits, logger, observer });
  const app = createApp({ config, store, logger, temporal, constantContact, metrics });
  // Temporal Schedules that missed a change (Temporal down, or a process stopped mid-save) are put right.
  reconcileSchedules({ client: temporal, taskQueue: config.temporal.taskQueue }, store).then(
    (r) => logger.info({ upserted: r.upserted.length, deleted: r.deleted.length }, 'schedules reconciled'),
    (err) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'schedules not reconciled: Temporal did not answer'),
  );
  const { server, serve } = createApiServer(config.api);
  serve(app);
  server.listen(config.port, () => logger.info({ port: config.port }, `API listening on ${config.publicBaseUrl}`));

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close(async () => {
      await connection.close().catch(() => undefined);
      await store.close();
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`API failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
