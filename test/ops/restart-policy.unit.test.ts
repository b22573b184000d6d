// eslint-disable-next-line @typescript-eslint/no-require-imports
const { restartDecision, RESTART_POLICY } = require('../../scripts/supervise.js') as {
  restartDecision(exitTimes: number[], now: number, policy?: object): { giveUp: boolean; recent: number[]; delayMs?: number };
  RESTART_POLICY: { maxExits: number; windowMs: number; firstDelayMs: number; maxDelayMs: number };
};

/** The one restart policy of `npm start`'s children: backoff, and when to give up. */
describe('the restart policy of npm start', () => {
  const now = 1_000_000;

  it('restarts after 0.5 s, then doubles the delay with each exit of the last minute, and gives up at the fifth', () => {
    const exits: number[] = [];
    const delays: (number | 'give up')[] = [];
    for (let i = 0; i < 5; i++) {
      exits.push(now + i * 1000);
      const d = restartDecision(exits, now + i * 1000);
      delays.push(d.giveUp ? 'give up' : d.delayMs!);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 'give up']);
    expect(RESTART_POLICY).toMatchObject({ maxExits: 5, windowMs: 60_000 });
  });

  it('forgets exits older than a minute: a child that crashes now and then is always restarted', () => {
    const exits = [now - 600_000, now - 300_000, now - 120_000, now - 60_001, now];
    expect(restartDecision(exits, now)).toEqual({ giveUp: false, recent: [now], delayMs: 500 });
    const fourInTheMinute = [now - 59_000, now - 40_000, now - 20_000, now];
    expect(restartDecision(fourInTheMinute, now)).toMatchObject({ giveUp: false, delayMs: 4000 });
  });

  it('never waits longer than the longest delay', () => {
    const policy = { ...RESTART_POLICY, maxExits: 100 };
    const exits = Array.from({ length: 20 }, (_, i) => now - i * 100);
    expect(restartDecision(exits, now, policy).delayMs).toBe(RESTART_POLICY.maxDelayMs);
  });
});
