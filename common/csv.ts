import { Utf8Chunks } from './utf8-chunks';

/**
 * A streaming RFC 4180 CSV push parser: feed it chunks, get complete records back. It never holds
 * more than one record (bounded by `maxRecordChars`) plus one chunk.
 *
 * - Fields are separated by `,`; records end with CRLF, LF or a lone CR.
 * - A field may be quoted with `"`; inside quotes, `""` is one quote and separators and line
 *   breaks are data.
 * - A byte order mark at the start is ignored. Empty lines are skipped (they yield nothing).
 * - Malformed records do not stop the parser: a record with a character after a closing quote, a
 *   quote inside an unquoted field, an unterminated quote at the end of the input, or more than
 *   `maxRecordChars` characters or `maxFields` fields is returned with `error` set (and possibly
 *   partial fields), so the caller can report it by line number and go on.
 * - `line` is the 1-based physical line the record starts on (quoted line breaks count).
 */
export interface CsvRecord {
  line: number;
  fields: string[];
  error?: string;
}

export const DEFAULT_MAX_RECORD_CHARS = 1024 * 1024;

const COMMA = 0x2c;
const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

enum State {
  /** At the start of a field. */
  FieldStart,
  /** Inside an unquoted field. */
  Unquoted,
  /** Inside a quoted field. */
  Quoted,
  /** Saw a quote inside a quoted field: either the first of `""` or the closing quote. */
  QuoteInQuoted,
  /** After a closing quote, before the separator. */
  AfterQuoted,
}

export class CsvParser {
  private readonly utf8 = new Utf8Chunks();
  private state = State.FieldStart;
  private fields: string[] = [];
  private field = '';
  private recordChars = 0;
  private error: string | undefined;
  /** The record grew past maxRecordChars or maxFields: stop keeping its text, keep tracking its end. */
  private dropping = false;
  /** The line the current record started on; 0 when no record is open. */
  private recordLine = 0;
  /** Physical line number of the current position (1-based). */
  private lineNo = 1;
  /** The previous chunk ended with a CR: a LF at the start of the next is part of that break. */
  private afterCr = false;

  constructor(
    private readonly maxRecordChars = DEFAULT_MAX_RECORD_CHARS,
    /** More fields than this make the record bad; the rest of it is not kept. */
    private readonly maxFields = Number.POSITIVE_INFINITY,
  ) {}

  push(chunk: Buffer | string): CsvRecord[] {
    const text = this.utf8.text(chunk);
    const out: CsvRecord[] = [];
    const n = text.length;
    let i = 0;
    if (this.afterCr && n > 0) {
      this.afterCr = false;
      if (text.charCodeAt(0) === LF) i = 1;
    }
    while (i < n) {
      const c = text.charCodeAt(i);
      switch (this.state) {
        case State.FieldStart: {
          if (this.recordLine === 0) this.recordLine = this.lineNo;
          if (c === QUOTE) {
            this.state = State.Quoted;
            i++;
          } else if (c === COMMA) {
            this.endField();
            i++;
          } else if (c === CR || c === LF) {
            i = this.lineBreak(text, i, out);
          } else {
            this.state = State.Unquoted;
          }
          break;
        }
        case State.Unquoted: {
          let j = i;
          while (j < n) {
            const d = text.charCodeAt(j);
            if (d === COMMA || d === CR || d === LF || d === QUOTE) break;
            j++;
          }
          this.append(text, i, j);
          i = j;
          if (i >= n) break;
          const d = text.charCodeAt(i);
          if (d === QUOTE) {
            this.fail('a quote inside an unquoted field (quote the whole field and double the quotes inside it)');
            this.append(text, i, i + 1);
            i++;
          } else if (d === COMMA) {
            this.endField();
            this.state = State.FieldStart;
            i++;
          } else {
            i = this.lineBreak(text, i, out);
          }
          break;
        }
        case State.Quoted: {
          let j = i;
          while (j < n) {
            const d = text.charCodeAt(j);
            if (d === QUOTE) break;
            if (d === LF) this.lineNo++;
            else if (d === CR && j + 1 < n && text.charCodeAt(j + 1) !== LF) this.lineNo++;
            j++;
          }
          this.append(text, i, j);
          i = j;
          if (i < n) {
            this.state = State.QuoteInQuoted;
            i++;
          }
          break;
        }
        case State.QuoteInQuoted: {
          if (c === QUOTE) {
            this.append('"', 0, 1);
            this.state = State.Quoted;
            i++;
          } else {
            this.state = State.AfterQuoted;
          }
          break;
        }
        case State.AfterQuoted: {
          if (c === COMMA) {
            this.endField();
            this.state = State.FieldStart;
            i++;
          } else if (c === CR || c === LF) {
            i = this.lineBreak(text, i, out);
          } else {
            this.fail('a character after a closing quote (a quote inside a quoted field must be doubled)');
            this.state = State.Unquoted;
          }
          break;
        }
      }
    }
    return out;
  }

  end(): CsvRecord[] {
    const out: CsvRecord[] = [];
    const rest = this.utf8.end();
    if (rest) out.push(...this.push(rest));
    if (this.state === State.Quoted) this.fail('a quoted field is not closed before the end of the input');
    if (this.state !== State.FieldStart || this.fields.length > 0) this.endRecord(out);
    return out;
  }

  private append(text: string, from: number, to: number): void {
    if (to <= from) return;
    this.recordChars += to - from;
    if (this.dropping) return;
    if (this.recordChars > this.maxRecordChars) {
      this.dropping = true;
      this.field = '';
      this.fields = [];
      this.fail(`record is longer than ${this.maxRecordChars} characters`);
      return;
    }
    this.field += from === 0 && to === text.length ? text : text.slice(from, to);
  }

  private fail(message: string): void {
    this.error ??= message;
  }

  private endField(): void {
    if (!this.dropping && this.fields.length >= this.maxFields) {
      this.dropping = true;
      this.fields = [];
      this.fail(`record has more than ${this.maxFields} fields`);
    }
    if (!this.dropping) this.fields.push(this.field);
    this.field = '';
  }

  /** At a CR or LF outside quotes: ends the record and returns the index after the break. */
  private lineBreak(text: string, i: number, out: CsvRecord[]): number {
    const c = text.charCodeAt(i);
    let next = i + 1;
    if (c === CR) {
      if (next < text.length) {
        if (text.charCodeAt(next) === LF) next++;
      } else {
        this.afterCr = true;
      }
    }
    const blank = this.state === State.FieldStart && this.fields.length === 0 && !this.error;
    if (!blank) this.endRecord(out);
    else this.reset();
    this.lineNo++;
    return next;
  }

  private endRecord(out: CsvRecord[]): void {
    this.endField();
    out.push({ line: this.recordLine || this.lineNo, fields: this.dropping ? [] : this.fields, ...(this.error ? { error: this.error } : {}) });
    this.reset();
  }

  private reset(): void {
    this.fields = [];
    this.field = '';
    this.recordChars = 0;
    this.error = undefined;
    this.dropping = false;
    this.recordLine = 0;
    this.state = State.FieldStart;
  }
}
