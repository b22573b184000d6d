import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { Config } from '../../common/config';
import type { ConstantContactApi } from '../../constant-contact/types';
import { connectSandboxConnection, createTestApp, type TestApp } from '../helpers/app';
import type { StoreKind } from '../helpers/stores';

/**
 * Mirror-mode test helpers: a worker in this process on the app's own task queue (the real
 * activities over the app's store and Constant Contact client), and reads of the sandbox.
 */

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    /* installed already in this process */
  }
}

let bundle: Promise<WorkflowBundle> | undefined;
/** The workflow bundle, built once per test file (a restarted worker reuses it). */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../workflows'), logger: new DefaultLogger('WARN') });
  return bundle;
}

/** A task queue of its own, so that no other test file's worker takes this file's tasks. */
export const uniqueTaskQueue = (prefix = 'mirror') => `${prefix}-${randomBytes(6).toString('hex')}`;

export interface TestWorker {
  /** Stops polling and waits for the worker to end (what a restart or deploy does). */
  stop(): Promise<void>;
}

export async function startWorker(app: TestApp, options: { constantContact?: ConstantContactApi; config?: Config } = {}): Promise<TestWorker> {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: app.config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: app.config.temporal.namespace,
    taskQueue: app.config.temporal.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({
      config: options.config ?? app.config,
      store: app.store,
      constantContact: options.constantContact ?? app.constantContact,
      logger: app.logger,
      clock: () => new Date(),
      temporal: app.temporal,
    }),
  });
  const running = worker.run();
  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

export interface SandboxMember {
  contactId: string;
  email: string;
}

/** The list's members as the sandbox holds them (control API, not counted in its stats). */
export async function sandboxMembers(app: TestApp, listId: string): Promise<SandboxMember[]> {
  const res = await fetch(`${app.sandboxAddress.baseUrl}/__sandbox/lists/${listId}/members`);
  if (res.status !== 200) throw new Error(`GET members answered ${res.status}`);
  const text = await res.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SandboxMember);
}

export async function sandboxEmails(app: TestApp, listId: string): Promise<string[]> {
  return (await sandboxMembers(app, listId)).map((m) => m.email.toLowerCase()).sort();
}

export interface SandboxStats {
  requests: number;
  byRoute: Record<string, number>;
  throttled: number;
  maxRequestsInOneSecond: number;
  removeRequests: number;
  removedMemberships: number;
  exportRequests: number;
}

export async function sandboxStats(app: TestApp): Promise<SandboxStats> {
  const res = await app.sandboxControl<SandboxStats>('GET', '/stats');
  return res.body;
}

export async function createSandboxList(app: TestApp, name: string): Promise<string> {
  const res = await app.sandboxControl<{ listId: string }>('POST', '/lists', { name });
  if (res.status !== 201 && res.status !== 200) throw new Error(`POST /__sandbox/lists answered ${res.status}: ${res.text}`);
  return res.body.listId;
}

/** Polls until `check` holds (or throws the last failure after timeoutMs). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

export const emailOf = (i: number) => `person${String(i).padStart(5, '0')}@example.com`;

/** What a describe block of end-to-end runs works with, set up in its beforeAll. */
export interface RunStack {
  app: TestApp;
  connectionId: string;
  /** Stops the worker and starts a new one (with other options, e.g. another configuration). */
  restartWorker(options?: Parameters<typeof startWorker>[1]): Promise<void>;
}

/**
 * The app on a store, a connection to the sandbox and a worker in this process on a task queue of
 * the block's own, started before its tests and stopped after them.
 */
export function useRunStack(kind: StoreKind, queuePrefix: string, logLevel = 'warn'): RunStack {
  let worker: TestWorker | undefined;
  const stack = {
    async restartWorker(options) {
      await worker?.stop();
      worker = await startWorker(stack.app, options);
    },
  } as RunStack;
  beforeAll(async () => {
    stack.app = await createTestApp({ kind, sandbox: { importMinMs: 50 }, env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue(queuePrefix), LOG_LEVEL: logLevel } });
    stack.connectionId = await connectSandboxConnection(stack.app);
    worker = await startWorker(stack.app);
  });
  afterAll(async () => {
    await worker?.stop();
    await stack.app?.close();
  });
  return stack;
}
