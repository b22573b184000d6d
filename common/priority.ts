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
export function lowerProcessPriority(by: number): void {
  if (by <= 0) return;
  lowerThread(0, by);
  for (const tid of threadIds()) if (tid !== process.pid) lowerThread(tid, by);
  lowerOwnAutogroup(by);
}

/**
 * With Linux's autogroup on, the cores are shared between sessions first, and a thread's nice
 * weighs only against the threads of its own session. A process started in a session of its own
 * (as `npm start` starts each service) would then compete with the API as an equal whatever its
 * threads' nice, so it lowers its session's nice as well. Only a session's leader does this: in
 * a session it did not start (a shell's), the same change would lower everything else in it too.
 */
function lowerOwnAutogroup(by: number): void {
  try {
    if (sessionId(fs.readFileSync('/proc/self/stat', 'utf8')) !== process.pid) return;
    const nice = autogroupNice(fs.readFileSync('/proc/self/autogroup', 'utf8'));
    if (nice !== undefined) fs.writeFileSync('/proc/self/autogroup', String(Math.min(LOWEST, nice + by)));
  } catch {
    // No /proc, no autogroup (the kernel's option is off or absent): nice counts per thread.
  }
}

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
