import { compileRule, validateRule, MAX_CONDITIONS, type Rule } from '../../store/rules';
import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';
import { FIXTURE_PROFILES, seedProfiles } from '../helpers/profiles';

const cond = (attribute: string, op: string, value?: unknown) => (value === undefined ? { attribute, op } : { attribute, op, value }) as Rule;
const ALL_IDS = FIXTURE_PROFILES.map((p) => p.id);
const except = (...ids: string[]) => ALL_IDS.filter((id) => !ids.includes(id));

/** [description, rule, the fixture profiles it matches] */
const cases: [string, Rule, string[]][] = [
  ['eq on a string is exact and case-sensitive', cond('Country', 'eq', 'LV'), ['p01', 'p02']],
  ['neq also matches profiles without the attribute or with null', cond('Country', 'neq', 'LV'), except('p01', 'p02')],
  ['in lists values', cond('Country', 'in', ['LV', 'EE']), ['p01', 'p02', 'p03']],
  ['nin is not-in, missing and null included', cond('Country', 'nin', ['LV', 'EE']), ['p04', 'p05', 'p06', 'p07']],
  ['eq on a number matches numbers only', cond('age', 'eq', 34), ['p01']],
  ['the number 10 does not match the string "10"', cond('age', 'eq', 10), []],
  ['the string "10" does not match the number 10', cond('age', 'eq', '10'), ['p03']],
  ['eq true matches the boolean only', cond('vip', 'eq', true), ['p01']],
  ['eq false matches the boolean false', cond('vip', 'eq', false), ['p02']],
  ['eq "true" matches the string only', cond('vip', 'eq', 'true'), ['p03']],
  ['in with mixed types keeps each type', cond('age', 'in', [10, 5, '10']), ['p03', 'p04']],
  ['in with a boolean', cond('vip', 'in', [true, 'x']), ['p01']],
  ['gt with a number compares numeric values only', cond('age', 'gt', 30), ['p01', 'p02']],
  ['gte', cond('age', 'gte', 34), ['p01', 'p02']],
  ['lt includes decimals', cond('age', 'lt', 30), ['p04', 'p05']],
  ['lte', cond('age', 'lte', 5), ['p04']],
  ['gt on decimals', cond('score', 'gt', 7), ['p04', 'p06']],
  ['eq on a decimal', cond('score', 'eq', 7.5), ['p04']],
  ['gt with a string compares strings only, by code point', cond('age', 'gt', '2'), []],
  ['gte with a string matches a string value', cond('age', 'gte', '10'), ['p03']],
  ['gt on ISO dates as strings', cond('signup', 'gt', '2024-01-01'), ['p05']],
  ['lt on ISO dates as strings', cond('signup', 'lt', '2024-01-01'), ['p06']],
  ['contains ignores case across Latvian letters', cond('firstName', 'contains', 'jān'), ['p01', 'p02']],
  ['contains with upper-case Latvian letters', cond('lastName', 'contains', 'ŅŠ'), ['p01', 'p02']],
  ['contains matches string values only', cond('age', 'contains', '1'), ['p03']],
  ['startsWith ignores case', cond('firstName', 'startsWith', 'PĒ'), ['p04']],
  ['startsWith is anchored at the start', cond('lastName', 'startsWith', 'ziņš'), []],
  ['startsWith on a full Latvian name', cond('lastName', 'startsWith', 'bĒrZiŅš'), ['p01']],
  ['exists ignores null values', cond('email', 'exists'), ['p01', 'p02', 'p03']],
  ['notExists matches missing and null', cond('email', 'notExists'), ['p04', 'p05', 'p06', 'p07']],
  ['exists on Country', cond('Country', 'exists'), ['p01', 'p02', 'p03', 'p04', 'p06']],
  ['a missing attribute never matches a positive operator', { any: [cond('nope', 'eq', 'x'), cond('nope', 'gt', 0), cond('nope', 'contains', 'x'), cond('nope', 'in', ['x']), cond('nope', 'exists')] }, []],
  ['a missing attribute matches the negative operators', { all: [cond('nope', 'neq', 'x'), cond('nope', 'nin', ['x']), cond('nope', 'notExists')] }, ALL_IDS],
  ['all [] matches every profile', { all: [] }, ALL_IDS],
  ['any [] matches none', { any: [] }, []],
  ['not all [] matches none', { not: { all: [] } }, []],
  ['all with not', { all: [cond('Country', 'eq', 'LV'), { not: cond('vip', 'eq', true) }] }, ['p02']],
  ['any with a nested all', { any: [cond('Country', 'eq', 'EE'), { all: [cond('score', 'exists'), cond('score', 'gt', 8)] }] }, ['p03', 'p06']],
  ['not of any', { not: { any: [cond('email', 'exists'), cond('signup', 'exists')] } }, ['p04', 'p07']],
  ['not of a positive operator includes profiles without the attribute', { not: cond('age', 'gt', 30) }, except('p01', 'p02')],
  ['double negation', { not: { not: cond('Country', 'eq', 'LV') } }, ['p01', 'p02']],
  [
    'nine nested groups',
    { all: [{ any: [{ not: { not: { all: [{ any: [{ all: [{ not: { not: cond('tier', 'eq', 'gold') } }] }] }] } } }] }] },
    ['p01'],
  ],
];

describe('segment rule validation', () => {
  const issues = (rule: unknown) => validateRule(rule);
  const paths = (rule: unknown) => issues(rule).map((i) => i.path.join('.'));

  it('accepts every operator of the grammar', () => {
    for (const [, rule] of cases) expect(issues(rule)).toEqual([]);
  });

  it('names the offending path', () => {
    expect(paths({ all: [cond('a', 'eq', 1), { attribute: 'b', op: 'between', value: 1 }] })).toEqual(['all.1.op']);
    expect(paths({ any: [{ attribute: 'b', op: 'eq' }] })).toEqual(['any.0.value']);
    expect(paths({ not: { attribute: 'b', op: 'in', value: 'x' } })).toEqual(['not.value']);
    expect(paths({ attribute: 'b', op: 'exists', value: 1 })).toEqual(['']);
    expect(issues({ attribute: 'b', op: 'exists', value: 1 })[0].message).toMatch(/value/);
    expect(paths({ attribute: '', op: 'exists' })).toEqual(['attribute']);
    expect(paths({ attribute: 'b', op: 'eq', value: { nested: 1 } })).toEqual(['value']);
    expect(paths({ attribute: 'b', op: 'eq', value: null })).toEqual(['value']);
    expect(paths({ attribute: 'b', op: 'gt', value: true })).toEqual(['value']);
    expect(paths({ attribute: 'b', op: 'contains', value: 3 })).toEqual(['value']);
    expect(paths({ attribute: 'b', op: 'in', value: [] })).toEqual(['value']);
    expect(paths({ all: {} })).toEqual(['all']);
    expect(paths({ all: [], any: [] })).toEqual(['']);
    expect(paths({ all: [42] })).toEqual(['all.0']);
    expect(paths('Country = LV')).toEqual(['']);
    expect(paths({ attribute: 'b', op: 'eq', value: 1, extra: true })).toEqual(['']);
    expect(issues({ attribute: 'b', op: 'eq', value: 1, extra: true })[0].message).toMatch(/extra/);
  });

  it('allows 10 levels and refuses 11', () => {
    const nest = (levels: number): unknown => (levels === 1 ? cond('a', 'exists') : { not: nest(levels - 1) });
    expect(issues(nest(10))).toEqual([]);
    const deep = issues(nest(11));
    expect(deep).toHaveLength(1);
    expect(deep[0].message).toMatch(/10 levels/);
    // Absurdly deep input is refused without walking all of it.
    expect(issues(nest(5000)).length).toBe(1);
  });

  it(`allows ${MAX_CONDITIONS} conditions and refuses more`, () => {
    const many = (n: number) => ({ any: Array.from({ length: n }, (_, i) => cond(`a${i}`, 'eq', i)) });
    expect(issues(many(MAX_CONDITIONS))).toEqual([]);
    expect(issues(many(MAX_CONDITIONS + 1)).map((i) => i.message)).toEqual([expect.stringMatching(/100 conditions/)]);
  });

  it('keeps attribute names and values out of the SQL text', () => {
    const evil = `x') OR 1=1; DROP TABLE profiles; --`;
    for (const dialect of ['sqlite', 'postgres'] as const) {
      const compiled = compileRule({ all: [cond(evil, 'eq', evil), cond(evil, 'contains', evil), cond(evil, 'in', [evil]), cond(evil, 'gt', evil)] }, dialect);
      expect(compiled.sql).not.toContain('DROP');
      expect(compiled.sql).not.toContain('OR 1=1');
      expect(compiled.params.some((p) => String(p).includes('DROP TABLE'))).toBe(true);
    }
  });
});

describe.each(storeKinds)('segment rules on %s', (kind) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await createTestStore(kind);
    await seedProfiles(t.store);
  });
  afterAll(() => t.destroy());

  it.each(cases)('%s', async (_name, rule, expected) => {
    expect(await t.store.segments.matchingIds(rule)).toEqual(expected);
  });

  it('reads attribute names with quotes, dots, brackets and SQL as plain data', async () => {
    const names = [`a.b`, `a"b`, `a\\b`, `$.x`, `[0]`, `it's`, `x') OR 1=1 --`, `"; DROP TABLE profiles; --`, `Vārds Uzvārds`, `\u0001ctl`];
    const profiles = names.map((name, i) => ({ id: `inj${String(i).padStart(2, '0')}`, attributes: { [name]: `v${i}`, a: 'plain' } }));
    await t.store.profiles.upsertMany(profiles);
    try {
      for (const [i, name] of names.entries()) {
        expect(await t.store.segments.matchingIds(cond(name, 'eq', `v${i}`))).toEqual([`inj${String(i).padStart(2, '0')}`]);
        expect(await t.store.segments.matchingIds(cond(name, 'exists'))).toEqual([`inj${String(i).padStart(2, '0')}`]);
      }
      // `a.b` is one attribute name, not a path into an object `a`.
      expect(await t.store.segments.matchingIds(cond('a', 'eq', 'plain'))).toHaveLength(names.length);
      expect(await t.store.segments.matchingIds(cond('b', 'exists'))).toEqual([]);
      // Values that look like SQL are compared as values.
      expect(await t.store.segments.matchingIds(cond('Country', 'eq', `LV' OR '1'='1`))).toEqual([]);
      expect(await t.store.segments.matchingIds(cond('Country', 'contains', `%`))).toEqual([]);
      expect(await t.store.segments.matchingIds(cond('Country', 'startsWith', `_`))).toEqual([]);
      expect(await t.store.profiles.count()).toBe(FIXTURE_PROFILES.length + names.length);
    } finally {
      for (const p of profiles) await t.store.profiles.delete(p.id);
    }
  });
});
