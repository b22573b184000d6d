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
