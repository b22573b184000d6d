import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse';
import { CsvParser } from '../common/csv';
import { fmt, readStatusKb, secs } from './harness';
import { benchProfile } from './profiles';

/**
 * `npm run bench -- csv [--rows N]`
 *
 * Our CSV parser (common/csv.ts) against csv-parse on the same inputs:
 * - correctness: small inputs with quotes, quoted line breaks, CRLF, a byte order mark and bad
 *   lines; what each parser returns, with the line it reports;
 * - speed and memory: a profile import CSV and a contact export CSV of N rows each (default
 *   1,000,000), written to temporary files and each parsed in a fresh process that streams the
 *   file in 64 KiB chunks; time and the process's peak RSS (VmHWM).
 */

export type ParserName = 'ours' | 'csv-parse';
const PARSERS: ParserName[] = ['ours', 'csv-parse'];

export interface ParsedRecord {
  /** The line number the parser reports for the record. */
  line: number;
  fields: string[];
  error?: string;
}

/** What csv-parse is asked for to do the job ours does: BOM, ragged rows, bad records skipped. */
const CSV_PARSE_OPTIONS = { bom: true, relax_column_count: true, skip_empty_lines: true, skip_records_with_error: true, info: true } as const;

/** Every record (and every bad record, with its error) of `chunks`, by either parser. */
export async function parseAll(parser: ParserName, chunks: AsyncIterable<Buffer> | Iterable<Buffer>, onRecord: (r: ParsedRecord) => void): Promise<void> {
  if (parser === 'ours') {
    const p = new CsvParser();
    for await (const chunk of chunks) for (const r of p.push(chunk)) onRecord(r);
    for (const r of p.end()) onRecord(r);
    return;
  }
  const p = parse({
    ...CSV_PARSE_OPTIONS,
    on_skip: (err) => {
      onRecord({ line: (err as { lines?: number } | undefined)?.lines ?? 0, fields: [], error: err?.code ?? 'skipped' });
      return undefined;
    },
  });
  const feed = (async () => {
    for await (const chunk of chunks) if (!p.write(chunk)) await new Promise((r) => p.once('drain', r));
    p.end();
  })();
  for await (const r of p as AsyncIterable<{ record: string[]; info: { lines: number } }>) onRecord({ line: r.info.lines, fields: r.record });
  await feed;
}

const CASES: { name: string; text: string; expected: string[] }[] = [
  { name: 'doubled quotes', text: 'id,name\n1,"a ""b"", c"\n', expected: ['1:id|name', '2:1|a "b", c'] },
  { name: 'quoted line break', text: 'id,note\n1,"one\ntwo"\n2,x\n', expected: ['1:id|note', '2:1|one\ntwo', '4:2|x'] },
  { name: 'CRLF', text: 'id,name\r\n1,a\r\n2,b\r\n', expected: ['1:id|name', '2:1|a', '3:2|b'] },
  { name: 'byte order mark', text: '\ufeffid,name\n1,a\n', expected: ['1:id|name', '2:1|a'] },
  { name: 'text after a closing quote', text: 'id,name\n1,"a"x\n2,b\n3,c\n', expected: ['1:id|name', '2:bad', '3:2|b', '4:3|c'] },
  { name: 'quote in an unquoted field', text: 'id,name\n1,a"b\n2,b\n', expected: ['1:id|name', '2:bad', '3:2|b'] },
  { name: 'unclosed quote at the end', text: 'id,name\n1,a\n2,"open\n3,c\n', expected: ['1:id|name', '2:1|a', '3:bad'] },
];

async function correctness(parser: ParserName): Promise<{ name: string; ok: boolean; got: string[] }[]> {
  const out = [];
  for (const c of CASES) {
    const records: ParsedRecord[] = [];
    await parseAll(parser, [Buffer.from(c.text)], (r) => records.push(r));
    // csv-parse reports skipped records as it meets them, ahead of the records it yields: by line.
    const got = records.sort((a, b) => a.line - b.line).map((r) => `${r.line}:${r.error ? 'bad' : r.fields.join('|')}`);
    out.push({ name: c.name, ok: JSON.stringify(got) === JSON.stringify(c.expected), got });
  }
  return out;
}

const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** A profile import CSV: the bench profiles, and every 50th row a note with a comma, a quote and a line break. */
function writeProfilesCsv(file: string, rows: number): void {
  const columns = [...Object.keys(benchProfile(0)), 'note'];
  writeLines(file, columns.join(','), rows, (i) => {
    const p: Record<string, unknown> = { ...benchProfile(i), note: i % 50 === 0 ? `called back, said "later"\nthen ${i}` : '' };
    return columns.map((c) => csvCell(p[c])).join(',');
  });
}

/** A contact export CSV as the run asks for it: the documented `email_address` field with a first name. */
function writeContactExportCsv(file: string, rows: number): void {
  writeLines(file, 'email_address,first_name', rows, (i) => `user${i}@example.test,Name ${i}`);
}

function writeLines(file: string, header: string, rows: number, row: (i: number) => string): void {
  const fd = fs.openSync(file, 'w');
  try {
    let buf = [`${header}\n`];
    for (let i = 0; i < rows; i++) {
      buf.push(`${row(i)}\n`);
      if (buf.length >= 10_000) {
        fs.writeSync(fd, buf.join(''));
        buf = [];
      }
    }
    fs.writeSync(fd, buf.join(''));
  } finally {
    fs.closeSync(fd);
  }
}

export interface CsvRunResult {
  parser: ParserName;
  input: string;
  records: number;
  bad: number;
  seconds: number;
  peakRssMb: number;
}

/** In a fresh process: parse `file` with `parser`, print one JSON line. */
async function child(parser: ParserName, file: string): Promise<void> {
  let records = 0;
  let bad = 0;
  const started = process.hrtime.bigint();
  await parseAll(parser, fs.createReadStream(file, { highWaterMark: 64 * 1024 }), (r) => (r.error ? bad++ : records++));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ records, bad, seconds, peakRssMb: Math.round(readStatusKb(process.pid, 'VmHWM') / 1024) })}\n`);
}

function runChild(parser: ParserName, file: string): Promise<Omit<CsvRunResult, 'parser' | 'input'>> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [__filename, '--child', parser, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`${parser} on ${file} exited with ${code}`))));
  });
}

export function csvBenchOptions(args: string[]): { rows: number } {
  const i = args.indexOf('--rows');
  const rows = i >= 0 ? Number(args[i + 1]) : 1_000_000;
  if (!Number.isInteger(rows) || rows < 1) throw new Error('--rows takes a positive integer');
  return { rows };
}

export async function runCsvBench({ rows }: { rows: number }): Promise<CsvRunResult[]> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log('correctness (line:fields, or line:bad)');
  for (const parser of PARSERS) {
    for (const c of await correctness(parser)) log(`  ${parser.padEnd(9)} ${c.ok ? 'ok  ' : 'DIFF'} ${c.name.padEnd(28)} ${c.ok ? '' : JSON.stringify(c.got)}`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segment-export-bench-csv-'));
  const results: CsvRunResult[] = [];
  try {
    const inputs = [
      { input: 'profile import', file: path.join(dir, 'profiles.csv'), write: writeProfilesCsv },
      { input: 'contact export', file: path.join(dir, 'contacts.csv'), write: writeContactExportCsv },
    ];
    for (const { input, file, write } of inputs) {
      write(file, rows);
      log(`${input}: ${fmt(rows)} rows, ${fmt(Math.round(fs.statSync(file).size / 1024 / 1024))} MB`);
      for (const parser of PARSERS) {
        const r = { parser, input, ...(await runChild(parser, file)) };
        results.push(r);
        log(`  ${parser.padEnd(9)} ${secs(r.seconds).padStart(7)}  ${fmt(Math.round(rows / r.seconds))} rows/s  peak RSS ${r.peakRssMb} MB  records ${fmt(r.records)}, bad ${r.bad}`);
      }
      fs.rmSync(file, { force: true });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  log(JSON.stringify(results));
  return results;
}

if (require.main === module && process.argv[2] === '--child') {
  child(process.argv[3] as ParserName, process.argv[4]).catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
