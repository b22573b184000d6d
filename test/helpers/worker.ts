import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type Activities } from '../../activities';
import type { Config } from '../../common/config';
import type { Logger } from '../../common/logger';
import { createConstantContactClient } from '../../constant-contact/client';
import type { ConstantContactApi } from '../../constant-contact/types';
import type { Store } from '../../store';
import type { RateLimitRepository } from '../../store/rate-limits';
import { constantContactObserver } from '../../services/events';

/**
 * Workers for the export-run tests: in this process (Worker.create over the TypeScript workflows),
 * or as a child process running the built worker (dist/worker/main.js) so a test can SIGKILL it.
 */

export const ROOT = path.resolve(__dirname, '../..');

/** A task queue of its own for a test file: runs of other files never reach its workers. */
export const uniqueTaskQueue = (name: string) => `test-${name}-${randomBytes(4).toString('hex')}`;

/** Worker logs at WARN (state changes at INFO are noise in test output); once per process, before any connection. */
export function installQuietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    /* installed already */
  }
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/** The workflows bundled once per test file and set of interceptor modules (quietly), shared by its workers. */
export function workflowBundle(workflowInterceptorModules: string[] = []): Promise<WorkflowBundleWithSourceMap> {
  installQuietRuntime();
  const key = workflowInterceptorModules.join('\n');
  if (!bundles.has(key)) {
    bundles.set(key, bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), workflowInterceptorModules, logger: new DefaultLogger('WARN') }));
  }
  return bundles.get(key)!;
}

export interface InProcessWorker {
  worker: Worker;
  /** Shuts the worker down and waits until it stopped. */
  stop(): Promise<void>;
}

export async function startInProcessWorker(options: {
  config: Config;
  store: Store;
  logger: Logger;
  /** Wraps the Constant Contact client the activities use (to count or fail calls). */
  wrapConstantContact?: (client: ConstantContactApi) => ConstantContactApi;
  /** Wraps the rate-limit repository the worker's Constant Contact client paces with. */
  wrapRateLimits?: (rateLimits: RateLimitRepository) => RateLimitRepository;
  /** Wraps the activities the worker registers (to fail an attempt after it did its work). */
  wrapActivities?: (activities: Activities) => Activities;
  /** Workflow interceptor modules bundled with the workflows (to change what they ask of the server). */
  workflowInterceptorModules?: string[];
  maxConcurrentActivityTaskExecutions?: number;
}): Promise<InProcessWorker> {
  const { config, store, logger } = options;
  const bundled = await workflowBundle(options.workflowInterceptorModules); // first: it installs the quiet runtime logger
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const observer = constantContactObserver({ config, store, temporal, logger });
  const rateLimits = options.wrapRateLimits ? options.wrapRateLimits(store.rateLimits) : store.rateLimits;
  const client = createConstantContactClient({ config: config.constantContact, tokens: store.tokens, rateLimits, logger, observer });
  const constantContact = options.wrapConstantContact ? options.wrapConstantContact(client) : client;
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: bundled,
    activities: (options.wrapActivities ?? ((a: Activities) => a))(createActivities({ config, store, constantContact, logger, clock: () => new Date(), temporal })),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions,
    // Tests stop workers often: do not wait long for the sticky queue of a stopped one.
    stickyQueueScheduleToStartTimeout: '2s',
  });
  const running = worker.run();
  return {
    worker,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await connection.close().catch(() => undefined);
      await (client as { close?: () => Promise<void> }).close?.();
    },
  };
}

/** The environment a child process needs to act as this test's worker (or API): store, Temporal, Constant Contact. */
export function childEnvironment(config: Config, storeEnv: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(TEMPORAL_|CC_|DATABASE_URL|DATA_DIR|SECRETS_KEY|API_KEYS|EXPORT_|SNAPSHOT_)/.test(k)) env[k] = v;
  }
  const cc = config.constantContact;
  return {
    ...env,
    ...storeEnv,
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_WORKER_LOG_LEVEL ?? 'info',
    TEMPORAL_ADDRESS: config.temporal.address,
    TEMPORAL_NAMESPACE: config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
    TEMPORAL_UI_URL: config.temporal.uiUrl,
    CC_SANDBOX: 'true',
    CC_API_BASE_URL: cc.apiBaseUrl,
    CC_AUTH_BASE_URL: cc.authBaseUrl,
    CC_CLIENT_ID: cc.clientId,
    CC_CLIENT_SECRET: cc.clientSecret,
    CC_REDIRECT_URI: cc.redirectUri,
    CC_RATE_PER_SECOND: String(cc.ratePerSecond),
    CC_RATE_PER_DAY: String(cc.ratePerDay),
    CC_MAX_CONTACTS_PER_IMPORT: String(cc.maxContactsPerImport),
    CC_MAX_IMPORT_BYTES: String(cc.maxImportBytes),
    EXPORT_MAX_PROFILES: String(config.exports.maxProfiles),
    SNAPSHOT_PAGE_SIZE: String(config.exports.snapshotPageSize),
    ...extra,
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  /** What it printed (stdout and stderr), for a failing test's message. */
  output(): string;
  /** Resolves when it logged that it started polling its task queue. */
  ready: Promise<void>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Spawns `node dist/worker/main.js` (build first: `npm test` does, or `npx tsc -p tsconfig.build.json`). */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const entry = path.join(ROOT, 'dist/worker/main.js');
  if (!fs.existsSync(entry)) throw new Error('dist/worker/main.js is missing: build with `npx tsc -p tsconfig.build.json` (npm test builds first)');
  const child = spawn(process.execPath, [entry], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let resolveReady: () => void;
  let rejectReady: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
    if (out.includes('worker started')) resolveReady();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then((code) => rejectReady(new Error(`the worker exited (${code}) before it started:\n${out.slice(-3000)}`)));
  ready.catch(() => undefined);
  return {
    child,
    output: () => out,
    ready,
    exited,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
