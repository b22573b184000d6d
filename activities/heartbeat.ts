import { Context } from '@temporalio/activity';

/**
 * The one heartbeat helper. Activities that read or post for long heartbeat, so that a worker
 * killed mid-call is noticed within seconds and a cancellation reaches them. Outside an activity
 * (the bench's plain script calls the same code) there is nothing to heartbeat to.
 */

/** The activity context when running in one. */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** One heartbeat, with progress details a retry can resume from. */
export function heartbeat(details?: unknown): void {
  activityContext()?.heartbeat(details);
}

/** Heartbeats every second while `fn` runs. */
export async function heartbeating<T>(fn: (ctx: Context | undefined) => Promise<T>): Promise<T> {
  const ctx = activityContext();
  const timer = ctx ? setInterval(() => ctx.heartbeat(), 1000) : undefined;
  try {
    ctx?.heartbeat();
    return await fn(ctx);
  } finally {
    if (timer) clearInterval(timer);
  }
}
