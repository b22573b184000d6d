import { canonicalTimeZone, exportCreateSchema, exportPatchSchema, scheduleSchema } from '../../api/schemas/exports';
import { cronProblem } from '../../services/cron';

describe('cron expressions', () => {
  it.each([
    '* * * * *',
    '0 6 * * *',
    '30 6,18 * * MON-FRI',
    '*/15 8-17 * * 1-5',
    '0 0 1 jan,jul *',
    '5-55/10 * 1-31/2 * 0',
    '0 12 * 12 sun',
  ])('accepts %s', (cron) => {
    expect(cronProblem(cron)).toBeNull();
  });

  it.each([
    ['', /5 fields/],
    ['0 6 * *', /5 fields/],
    ['0 6 * * * *', /5 fields/],
    ['60 * * * *', /minute/],
    ['* 24 * * *', /hour/],
    ['* * 0 * *', /day of month/],
    ['* * 32 * *', /day of month/],
    ['* * * 13 *', /month/],
    ['* * * * 7', /day of week/],
    ['* * * * MOO', /day of week/],
    ['5-1 * * * *', /descending/],
    ['*/0 * * * *', /step/],
    ['1-2-3 * * * *', /minute/],
    ['@daily * * * *', /minute/],
    ['0 6 * * 1,', /day of week/],
  ])('rejects %j', (cron, problem) => {
    expect(cronProblem(cron)).toMatch(problem);
  });
});

describe('time zones', () => {
  it('canonicalizes IANA names and rejects others', () => {
    expect(canonicalTimeZone('Europe/Riga')).toBe('Europe/Riga');
    expect(canonicalTimeZone('europe/riga')).toBe('Europe/Riga');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    expect(canonicalTimeZone('Mars/Olympus_Mons')).toBeNull();
    expect(canonicalTimeZone('')).toBeNull();
    expect(canonicalTimeZone('Europe/Riga; DROP TABLE')).toBeNull();
  });
});

describe('export schemas', () => {
  const valid = {
    name: 'Spring newsletter',
    connectionId: 'con_0000000001abcdef0123456789',
    listId: '00000000-0000-4000-8000-000000000001',
    mapping: { email: 'EmailAddress' },
    segmentIds: ['seg_0000000001abcdef0123456789'],
  };

  it('applies the defaults', () => {
    expect(exportCreateSchema.parse(valid)).toMatchObject({ syncMode: 'upsert', maxRemovalPercent: 20, schedule: { mode: 'with-refresh' } });
  });

  it('accepts 25 custom fields and refuses 26', () => {
    const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, `A${i}`]));
    expect(exportCreateSchema.safeParse({ ...valid, mapping: { email: 'E', customFields: fields(25) } }).success).toBe(true);
    expect(exportCreateSchema.safeParse({ ...valid, mapping: { email: 'E', customFields: fields(26) } }).success).toBe(false);
  });

  it('normalizes a custom schedule', () => {
    expect(scheduleSchema.parse({ mode: 'custom', cron: ' 0  6 * * 1-5 ', timezone: 'europe/riga' })).toEqual({
      mode: 'custom',
      cron: '0 6 * * 1-5',
      timezone: 'Europe/Riga',
    });
  });

  it('refuses an empty patch and unknown fields in a patch', () => {
    expect(exportPatchSchema.safeParse({}).success).toBe(false);
    expect(exportPatchSchema.safeParse({ name: 'x', id: 'exp_0000000001abcdef' }).success).toBe(false);
    expect(exportPatchSchema.safeParse({ name: 'x' }).success).toBe(true);
  });
});
