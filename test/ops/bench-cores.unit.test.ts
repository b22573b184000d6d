import { coreShare, cpuSeconds, describeCores, postgresBackendGroups, processGroups } from '../../bench/cores';

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
    const cores = await share.stop();
    const wall = (performance.now() - wallStart) / 1000;
    const used = process.cpuUsage(cpuStart);
    const cpu = (used.user + used.system) / 1e6;

    expect(Object.keys(cores)).toEqual(['bench']);
    // /proc counts in ticks of 10 ms; the share's own wall time lies within the test's.
    expect(cores.bench).toBeGreaterThanOrEqual((cpu - 0.03) / wall);
    expect(cores.bench).toBeLessThanOrEqual(1.5);
    expect(describeCores(cores)).toMatch(/^bench \d\.\d\d \(of \d+ cores\)$/);
    expect(describeCores({})).toBe('not measurable here (no /proc)');
  });

  it('leaves out the backends of a database on another host (their pids are not this machine’s)', async () => {
    expect(await postgresBackendGroups('postgres://segment-export@db.example.com:5432/store')()).toEqual({});
  });
});
