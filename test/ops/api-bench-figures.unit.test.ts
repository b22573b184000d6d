import { apiBenchOptions, latencyFigures, spreadConnections, targetsHeld, type RouteFigures } from '../../bench/api';

describe('the API load benchmark’s figures', () => {
  it('takes p50, p99 and max from the measured latencies, and the rate over the measured seconds', () => {
    const latencies = Array.from({ length: 1000 }, (_, i) => i + 1); // 1 … 1000 ms, in any order
    latencies.reverse();
    expect(latencyFigures(latencies, 20)).toEqual({ requestsPerSecond: 50, p50: 500, p99: 990, max: 1000 });
    expect(latencyFigures([12.4, 12.6], 1)).toEqual({ requestsPerSecond: 2, p50: 12, p99: 13, max: 13 });
    expect(latencyFigures([], 20)).toEqual({ requestsPerSecond: 0, p50: 0, p99: 0, max: 0 });
  });

  it('holds the targets only when every route of the heavy phase meets each of them', () => {
    const route = (f: Partial<RouteFigures>): RouteFigures => ({ requestsPerSecond: 1000, p50: 10, p99: 40, max: 200, errors: 0, ...f });
    const quiet = { '/healthz': route({}), '/v1/segments': route({}) };
    expect(targetsHeld(quiet, { '/healthz': route({}), '/v1/segments': route({ requestsPerSecond: 500 }) })).toBe(true);
    expect(targetsHeld(quiet, { '/healthz': route({}), '/v1/segments': route({ requestsPerSecond: 499 }) })).toBe(false);
    expect(targetsHeld(quiet, { '/healthz': route({ max: 251 }), '/v1/segments': route({}) })).toBe(false);
    expect(targetsHeld(quiet, { '/healthz': route({ p99: 51 }), '/v1/segments': route({}) })).toBe(false);
    expect(targetsHeld(quiet, { '/healthz': route({ errors: 1 }), '/v1/segments': route({}) })).toBe(false);
  });

  it('reads its options and refuses unknown ones', () => {
    expect(apiBenchOptions(['--store', 'postgres', '--connections=4'], {})).toMatchObject({ store: 'postgres', connections: 4, profiles: 1_000_000, seconds: 20 });
    expect(() => apiBenchOptions(['--fast'], {})).toThrow('unknown option --fast');
  });

  it('runs several APIs only on PostgreSQL, and spreads each route\'s connections evenly over them', () => {
    expect(apiBenchOptions([], {})).toMatchObject({ store: 'sqlite', apis: 1 });
    expect(apiBenchOptions(['--store', 'postgres', '--apis', '2'], {})).toMatchObject({ store: 'postgres', apis: 2 });
    expect(() => apiBenchOptions(['--apis', '2'], {})).toThrow('--apis above 1 needs --store postgres');
    expect(() => apiBenchOptions(['--store', 'postgres', '--apis', '0'], {})).toThrow('--apis takes a positive integer');
    expect(spreadConnections(16, 1)).toEqual([16]);
    expect(spreadConnections(16, 2)).toEqual([8, 8]);
    expect(spreadConnections(5, 2)).toEqual([3, 2]);
    expect(spreadConnections(1, 3)).toEqual([1, 0, 0]);
  });
});
