import fs from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { procStatFields } from '../common/priority';

/**
 * Where a machine's cores went during a phase of a benchmark: the CPU time each named group of
 * processes used, divided by the phase's wall time (1.0 = one core busy all along). Read from
 * /proc/<pid>/stat (all of a process's threads), so Linux only; elsewhere, and for a process that
 * cannot be read, it reports nothing. PostgreSQL's backends are found by their `application_name`
 * (`segment-export api`, `… worker`, `… api import`), when the database runs on this machine.
 */

export type CoreGroups = () => Promise<Record<string, number[]>>;

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node runs on
const NOT_MEASURABLE = 'not measurable here (no /proc)';

/** CPU seconds (user + system) a process has used, or undefined when it cannot be read. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const fields = procStatFields(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Groups of fixed processes (the bench's children, the bench itself). */
export const processGroups =
  (groups: Record<string, number | undefined>): CoreGroups =>
  async () =>
    Object.fromEntries(Object.entries(groups).flatMap(([name, pid]) => (pid === undefined ? [] : [[name, [pid]]])));

const LOCAL_HOSTS = new Set(['', 'localhost', '127.0.0.1', '[::1]']);

/**
 * This project's PostgreSQL backends on the database of `databaseUrl`, grouped by application name;
 * none when the database is on another host (its backends' pids are not this machine's).
 */
export function postgresBackendGroups(databaseUrl: string): CoreGroups {
  if (!LOCAL_HOSTS.has(new URL(databaseUrl).hostname)) return async () => ({});
  return async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ pid: number; application_name: string }>(
        "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'segment-export%'",
      );
      const groups: Record<string, number[]> = {};
      for (const r of rows) (groups[`PostgreSQL ${r.application_name.replace(/^segment-export ?/, '') || 'other'}`] ??= []).push(r.pid);
      return groups;
    } finally {
      await client.end();
    }
  };
}

export interface PhaseCores {
  cores: Record<string, number>;
  /** Which of the processes that ran in the phase the kernel weighed as one (`describeSchedulingGroups`). */
  schedulingGroups: string;
}

/**
 * Measures from `start()` to `stop()`. A process that appears in between counts from zero (it
 * started during the phase); one that ends in between is not counted, so a figure is at least what
 * the group used.
 */
export function coreShare(sources: CoreGroups[]): { start(): Promise<void>; stop(): Promise<PhaseCores> } {
  let before = new Map<number, number>();
  let startedAt = 0;
  const collect = async () => (await Promise.all(sources.map((s) => s()))).flatMap((groups) => Object.entries(groups));
  return {
    async start() {
      before = new Map((await collect()).flatMap(([, pids]) => pids.map((pid) => [pid, cpuSeconds(pid) ?? 0] as const)));
      startedAt = performance.now();
    },
    async stop() {
      const groups = await collect();
      // The phase ends when its CPU times are read, after the backends' query.
      const seconds = (performance.now() - startedAt) / 1000;
      const cores: Record<string, number> = {};
      const busy: Array<readonly [string, string | undefined]> = [];
      const autogroup = autogroupEnabled();
      for (const [name, pids] of groups) {
        for (const pid of pids) {
          const used = cpuSeconds(pid);
          if (used === undefined) continue;
          const phase = used - (before.get(pid) ?? 0);
          cores[name] = (cores[name] ?? 0) + phase / seconds;
          // Only a process that ran competed for the cores (a pool's idle backends did not).
          if (phase > 0) busy.push([name, schedulingGroupOf(pid, autogroup)]);
        }
      }
      return {
        cores: Object.fromEntries(Object.entries(cores).map(([name, c]) => [name, Math.round(c * 100) / 100])),
        schedulingGroups: describeSchedulingGroups(busy),
      };
    },
  };
}

/** `API 0.62, worker 0.12, … (of 2 cores)` */
export function describeCores(cores: Record<string, number>): string {
  const parts = Object.entries(cores).map(([name, c]) => `${name} ${c.toFixed(2)}`);
  return parts.length > 0 ? `${parts.join(', ')} (of ${os.availableParallelism()} cores)` : NOT_MEASURABLE;
}

/**
 * The unit Linux shares the cores between before a process's nice value counts (nice weighs only
 * against the threads of the same unit): its cpu cgroup, or, in the root cgroup with autogroup on
 * (`kernel.sched_autogroup_enabled`), its session's autogroup. PostgreSQL starts every backend in
 * a session of its own, so with autogroup each busy backend weighs as much as the whole API process.
 * Undefined when /proc does not tell.
 */
export function schedulingGroupOf(pid: number, autogroup = autogroupEnabled()): string | undefined {
  const cgroup = readProc(`/proc/${pid}/cgroup`);
  if (cgroup === undefined) return undefined;
  return schedulingKey(cgroup, readProc(`/proc/${pid}/autogroup`), autogroup);
}

/** Whether the kernel shares the root cgroup's cores between sessions (`kernel.sched_autogroup_enabled`). */
export function autogroupEnabled(): boolean {
  return readProc('/proc/sys/kernel/sched_autogroup_enabled')?.trim() === '1';
}

function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** `schedulingGroupOf` from the texts of /proc/<pid>/cgroup and /proc/<pid>/autogroup. */
export function schedulingKey(cgroupText: string, autogroupText: string | undefined, autogroupEnabled: boolean): string {
  const lines = cgroupText.trim().split('\n').map((line) => line.split(':'));
  // cgroup v1 names its cpu controller (`3:cpu,cpuacct:/path`); v2 has one hierarchy (`0::/path`).
  const cpu = lines.find(([, controllers]) => controllers.split(',').includes('cpu')) ?? lines.find(([id, controllers]) => id === '0' && controllers === '');
  const path = cpu ? cpu.slice(2).join(':') : '/';
  const autogroup = autogroupText?.trim().split(' ')[0];
  return path === '/' && autogroupEnabled && autogroup ? `autogroup ${autogroup}` : `cgroup ${path}`;
}

/**
 * `API+worker+load generator; PostgreSQL worker ×2; …`: the named processes each unit holds, the
 * units holding the same names counted.
 */
export function describeSchedulingGroups(processes: ReadonlyArray<readonly [name: string, key: string | undefined]>): string {
  const units = new Map<string, Set<string>>();
  for (const [name, key] of processes) if (key !== undefined) (units.get(key) ?? units.set(key, new Set()).get(key)!).add(name);
  const counts = new Map<string, number>();
  for (const names of units.values()) {
    const label = [...names].join('+');
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  if (counts.size === 0) return NOT_MEASURABLE;
  return [...counts].map(([label, n]) => (n > 1 ? `${label} ×${n}` : label)).join('; ');
}
