import os from 'node:os';

/**
 * Lowers the calling thread's scheduling priority by `by` nice levels (at most to the lowest).
 * Linux keeps a priority per thread and a thread starts with its creator's, so a process that calls
 * this first thing lowers the threads it starts later too. Lowering needs no privilege; where the
 * system refuses, the thread keeps its priority. Nice matters only when threads compete for a core:
 * alone on a machine, a lowered thread runs as fast as before.
 */
export function lowerPriority(by: number): void {
  if (by <= 0) return;
  try {
    os.setPriority(Math.min(os.constants.priority.PRIORITY_LOW, os.getPriority() + by));
  } catch {
    // Where a thread cannot have its own priority, it keeps the one it has.
  }
}
