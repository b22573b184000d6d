import type { ImportThread } from './import-thread';
import type { OAuthStore } from './oauth';
import type { SandboxOptions } from './options';
import type { KeyRateLimiter, RollingSecond } from './rate-limit';
import type { SandboxState } from './state';

/** Faults injected into /v3 requests through PUT /__sandbox/faults. */
export interface Faults {
  /** Share of requests answered 500 or 503 (array error body). */
  errorRate: number;
  /** Share of requests answered 429 with the throttled body. */
  throttleRate: number;
  /** Share of requests whose socket is destroyed without an answer. */
  resetRate: number;
  /** Delay added to every /v3 request. */
  latencyMs: number;
  /** The next this many JSON imports end `failed` when their time comes (nothing of them applied). */
  failImports?: number;
}

export const noFaults = (): Faults => ({ errorRate: 0, throttleRate: 0, resetRate: 0, latencyMs: 0 });

export interface SandboxContext {
  options: SandboxOptions;
  state: SandboxState;
  oauth: OAuthStore;
  /** Per application key (client id) limiters. */
  limiters: Map<string, KeyRateLimiter>;
  /** Arrivals of /v3 requests in the rolling second (for stats.maxRequestsInOneSecond). */
  arrivals: RollingSecond;
  faults: Faults;
  /** Parses and validates import bodies off the main thread. */
  importThread: ImportThread;
  limits: { ratePerSecond: number; ratePerDay: number; maxQueuedActivities: number; tokenRatePerSecond: number; tokenBurst: number };
}
