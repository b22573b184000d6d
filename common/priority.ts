import fs from 'node:fs';
import os from 'node:os';

const LOWEST = os.constants.priority.PRIORITY_LOW;

/**
 * Lowers the calling thread's scheduling priority by `by` nice levels (at most to the lowest).
 * Linux keeps a priority per thread and a thread starts with its creator's, so the threads this
 * one starts later run at the lowered priority too. Lowering needs no privilege; where the system
 * refuses, the thread keeps its priority. Nice matters only when threads compete for a core: alone
 * on a machine, a lowered thread runs as fast as before.
 */
export function lowerPriority(by: number): void {
  if (by > 0) lowerThread(0, by);
}

/**
 * Lowers every thread of this process by `by` nice levels: the calling one and, on Linux, those
 * already running (V8's and libuv's helpers start before any of our code, and garbage collection
 * runs on them); threads started later inherit the caller's.
 */
export function lowerProcessPriority(by: number): Promise<void> {
  if (by <= 0) return Promise.resolve();
  lowerThread(0, by);
  for (const tid of threadIds()) if (tid !== process.pid) lowerThread(tid, by);
  return lowerOwnAutogroup(by);
}

/**
 * With Linux's autogroup on, the cores are shared between sessions first, and a thread's nice
 * weighs only against the threads of its own session. A process started in a session of its own
 * (as `npm start` starts each service) would then compete with the API as an equal whatever its
 * threads' nice, so it lowers its session's nice as well. Only a session's leader does this: in
 * a session it did not start (a shell's), the same change would lower everything else in it too.
 * Resolves when done, or when there is nothing to do (no /proc, no autogroup).
 */
async function lowerOwnAutogroup(by: number): Promise<void> {
  try {
    if (sessionId(fs.readFileSync('/proc/self/stat', 'utf8')) !== process.pid) return;
  } catch {
    return; // no /proc: nice counts per thread
  }
  await lowerAutogroup('self', by);
}

/**
 * Lowers the nice of the autogroup (session) of process `pid` by `by` levels. Resolves when done,
 * or when it cannot be done (no /proc, no autogroup, a process this one may not change).
 */
export async function lowerAutogroup(pid: number | 'self', by: number): Promise<void> {
  const file = `/proc/${pid}/autogroup`;
  let nice: number | undefined;
  try {
    nice = autogroupNice(fs.readFileSync(file, 'utf8'));
  } catch {
    return;
  }
  if (nice === undefined) return;
  const lowered = String(Math.min(LOWEST, nice + by));
  // Without privilege the kernel takes one such change a tenth of a second from all processes
  // together (EAGAIN otherwise), and services started at once meet that: each tries again a little
  // later, at its own random moment, for up to about ten seconds.
  for (let attempt = 0; attempt < AUTOGROUP_ATTEMPTS; attempt++) {
    try {
      fs.writeFileSync(file, lowered);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return; // refused: the session keeps its share
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 100));
    }
  }
}

const AUTOGROUP_ATTEMPTS = 70;

/** The session id in the text of /proc/<pid>/stat. */
export function sessionId(stat: string): number {
  return Number(procStatFields(stat)[3]);
}

/** The fields of /proc/<pid>/stat after the command name (in parentheses, and it may hold spaces), the state first. */
export function procStatFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The nice value in the text of /proc/<pid>/autogroup (`/autogroup-86 nice 0`). */
export function autogroupNice(text: string): number | undefined {
  const m = /\bnice (-?\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** This process's thread ids (Linux's /proc), none where the system does not list them. */
function threadIds(): number[] {
  try {
    return fs.readdirSync('/proc/self/task').map(Number);
  } catch {
    return [];
  }
}

function lowerThread(tid: number, by: number): void {
  try {
    os.setPriority(tid, Math.min(LOWEST, os.getPriority(tid) + by));
  } catch {
    // Where a thread cannot have its own priority, or has just ended, it keeps the one it has.
  }
}
