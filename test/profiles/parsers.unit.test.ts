import { CsvParser, type CsvRecord } from '../../common/csv';
import { NdjsonSplitter, type NdjsonLine } from '../../common/ndjson';

/** Feeds `input` split at every position (and byte by byte) and checks the result never depends on chunking. */
function everySplit<T>(input: string, run: (chunks: Buffer[]) => T): T {
  const bytes = Buffer.from(input, 'utf8');
  const whole = run([bytes]);
  for (let i = 1; i < bytes.length; i++) expect(run([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(whole);
  expect(run([...bytes].map((b) => Buffer.from([b])))).toEqual(whole);
  return whole;
}

const splitLines = (chunks: Buffer[], max?: number): NdjsonLine[] => {
  const s = new NdjsonSplitter(max);
  return [...chunks.flatMap((c) => s.push(c)), ...s.end()];
};

const parseCsv = (chunks: Buffer[], max?: number, maxFields?: number): CsvRecord[] => {
  const p = new CsvParser(max, maxFields);
  return [...chunks.flatMap((c) => p.push(c)), ...p.end()];
};

describe('NDJSON splitter', () => {
  it('splits lines, drops CR before LF, skips blank lines, keeps line numbers', () => {
    const lines = everySplit('\uFEFF{"id":"a"}\r\n\n  \n{"id":"Jānis Bērziņš"}\n{"id":"c"}', (c) => splitLines(c));
    expect(lines).toEqual([
      { line: 1, text: '{"id":"a"}' },
      { line: 4, text: '{"id":"Jānis Bērziņš"}' },
      { line: 5, text: '{"id":"c"}' },
    ]);
  });

  it('reports a line longer than the limit once and goes on', () => {
    const input = `{"id":"a"}\n${'x'.repeat(50)}\n{"id":"b"}\n${'y'.repeat(30)}`;
    const lines = everySplit(input, (c) => splitLines(c, 20));
    expect(lines).toEqual([
      { line: 1, text: '{"id":"a"}' },
      { line: 2, error: expect.stringMatching(/longer than 20/) },
      { line: 3, text: '{"id":"b"}' },
      { line: 4, error: expect.stringMatching(/longer than 20/) },
    ]);
  });
});

describe('CSV parser (RFC 4180)', () => {
  it('reads quoted fields with separators, doubled quotes and line breaks', () => {
    const input = '\uFEFFid,name,note\r\n1,"Bērziņš, Jānis","say ""hi"""\r\n2,,"two\nlines"\n3,"",x\r\n';
    const records = everySplit(input, (c) => parseCsv(c));
    expect(records).toEqual([
      { line: 1, fields: ['id', 'name', 'note'] },
      { line: 2, fields: ['1', 'Bērziņš, Jānis', 'say "hi"'] },
      { line: 3, fields: ['2', '', 'two\nlines'] },
      { line: 5, fields: ['3', '', 'x'] },
    ]);
  });

  it('accepts LF, CRLF and lone CR line ends, skips empty lines, reads a last line without a break', () => {
    const records = everySplit('a,b\n\n1,2\r\r\n3,4\r5,6', (c) => parseCsv(c));
    expect(records.map((r) => r.fields)).toEqual([['a', 'b'], ['1', '2'], ['3', '4'], ['5', '6']]);
  });

  it('flags malformed records and goes on with the next one', () => {
    const input = 'id,v\nok1,1\n"bad"x,2\nab"c,3\nok2,4\n"open,5';
    const records = everySplit(input, (c) => parseCsv(c));
    expect(records.map((r) => [r.line, r.error ? 'error' : r.fields.join('|')])).toEqual([
      [1, 'id|v'],
      [2, 'ok1|1'],
      [3, 'error'],
      [4, 'error'],
      [5, 'ok2|4'],
      [6, 'error'],
    ]);
    expect(records[2].error).toMatch(/after a closing quote/);
    expect(records[3].error).toMatch(/quote inside an unquoted field/);
    expect(records[5].error).toMatch(/not closed/);
  });

  it('does not keep a record longer than the limit and finds the next one', () => {
    const input = `id,v\n1,"${'z'.repeat(100)}"\n2,ok\n`;
    const records = everySplit(input, (c) => parseCsv(c, 40));
    expect(records).toEqual([
      { line: 1, fields: ['id', 'v'] },
      { line: 2, fields: [], error: expect.stringMatching(/longer than 40/) },
      { line: 3, fields: ['2', 'ok'] },
    ]);
  });

  it('does not keep a record with more fields than the limit and finds the next one', () => {
    const input = `id,a,b
1,2,3,4,5,6
,,,,,,,,
2,x,y
`;
    const records = everySplit(input, (c) => parseCsv(c, undefined, 3));
    expect(records).toEqual([
      { line: 1, fields: ['id', 'a', 'b'] },
      { line: 2, fields: [], error: 'record has more than 3 fields' },
      { line: 3, fields: [], error: 'record has more than 3 fields' },
      { line: 4, fields: ['2', 'x', 'y'] },
    ]);
  });
});
