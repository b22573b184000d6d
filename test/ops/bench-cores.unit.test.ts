import { spawn } from 'node:child_process';
import fs from 'node:fs';
import {
  coreShare,
  cpuSeconds,
  describeCores,
  describeSchedulingGroups,
  postgresBackendGroups,
  processGroups,
  schedulingGroupOf,
  schedulingKey,
} from '../../bench/cores';

/** Spends `ms` of this process's CPU time (not wall time: the machine may be busy). */
function burnCpu(ms: number): void {
  const start = process.cpuUsage();
  let x = 0;
  while ((process.cpuUsage().user + process.cpuUsage().system - start.user - start.system) / 1000 < ms) x += Math.sqrt(x + 1);
}

describe('the benchmarks’ share of the cores', () => {
  it('reads a process’s CPU time from /proc, and nothing for a process that is not there', () => {
    const before = cpuSeconds(process.pid);
    burnCpu(200);
    const after = cpuSeconds(process.pid);
    expect(after! - before!).toBeGreaterThanOrEqual(0.18);
    expect(cpuSeconds(2 ** 31 - 2)).toBeUndefined();
  });

  it('divides the CPU time each group used by the wall time between start and stop', async () => {
    const share = coreShare([processGroups({ bench: process.pid, 'not started': undefined, gone: 2 ** 31 - 2 })]);
    const wallStart = performance.now();
    const cpuStart = process.cpuUsage();
    await share.start();
    burnCpu(300);
    const { cores, schedulingGroups } = await share.stop();
    const wall = (performance.now() - wallStart) / 1000;
    const used = process.cpuUsage(cpuStart);
    const cpu = (used.user + used.system) / 1e6;

    expect(Object.keys(cores)).toEqual(['bench']);
    // /proc counts in ticks of 10 ms; the share's own wall time lies within the test's.
    expect(cores.bench).toBeGreaterThanOrEqual((cpu - 0.03) / wall);
    expect(cores.bench).toBeLessThanOrEqual(1.5);
    expect(describeCores(cores)).toMatch(/^bench \d\.\d\d \(of \d+ cores\)$/);
    expect(describeCores({})).toBe('not measurable here (no /proc)');
    expect(schedulingGroups).toBe('bench');
  });

  it('names the unit the kernel shares the cores between: the cpu cgroup, or the session’s autogroup in the root cgroup', () => {
    const v1 = '12:pids:/\n4:memory:/job\n3:cpu,cpuacct:/database\n0::/';
    expect(schedulingKey(v1, '/autogroup-7 nice 0', true)).toBe('cgroup /database');
    expect(schedulingKey('3:cpu,cpuacct:/\n0::/', '/autogroup-7 nice 0\n', true)).toBe('autogroup /autogroup-7');
    expect(schedulingKey('3:cpu,cpuacct:/\n0::/', '/autogroup-7 nice 0', false)).toBe('cgroup /');
    expect(schedulingKey('0::/system.slice/postgresql.service', undefined, true)).toBe('cgroup /system.slice/postgresql.service');
    expect(schedulingKey('0::/', undefined, true)).toBe('cgroup /');
  });

  it('lists which named processes share a unit, and counts the units that hold the same names', () => {
    const described = describeSchedulingGroups([
      ['API', 'autogroup /autogroup-86'],
      ['load generator', 'autogroup /autogroup-86'],
      ['PostgreSQL worker', 'autogroup /autogroup-90'],
      ['PostgreSQL worker', 'autogroup /autogroup-91'],
      ['PostgreSQL api', 'autogroup /autogroup-92'],
      ['sandbox', undefined],
    ]);
    expect(described).toBe('API+load generator; PostgreSQL worker ×2; PostgreSQL api');
    expect(describeSchedulingGroups([['API', undefined]])).toBe('not measurable here (no /proc)');
  });

  it('puts a child started in a session of its own in a unit of its own exactly when autogroup is on', async () => {
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const ours = schedulingGroupOf(process.pid);
      const theirs = schedulingGroupOf(child.pid!);
      expect(ours).toMatch(/^(autogroup|cgroup) \//);
      const autogroupOn = fs.readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
      const rootCgroup = ours!.startsWith('autogroup') || ours === 'cgroup /';
      expect(theirs === ours).toBe(!(autogroupOn && rootCgroup));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('leaves out the backends of a database on another host (their pids are not this machine’s)', async () => {
    expect(await postgresBackendGroups('postgres://segment-export@db.example.com:5432/store')()).toEqual({});
  });
});
