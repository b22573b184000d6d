import { Utf8Chunks } from './utf8-chunks';

/**
 * A push parser that splits a stream of UTF-8 chunks into NDJSON lines without ever holding more
 * than one line (bounded by `maxLineChars`) plus one chunk in memory. It does not parse JSON: the
 * caller does, so it can report a bad line and go on.
 *
 * - Lines end with LF; a CR before the LF is dropped. A byte order mark at the start is ignored.
 * - Blank lines (only whitespace) are skipped and yield nothing, but still count for line numbers.
 * - A line longer than `maxLineChars` yields `{line, error}` once and is skipped up to its end
 *   without being buffered.
 * - Line numbers are 1-based physical line numbers of the body.
 */
export type NdjsonLine = { line: number; text: string; error?: undefined } | { line: number; error: string; text?: undefined };

export const DEFAULT_MAX_LINE_CHARS = 1024 * 1024;

export class NdjsonSplitter {
  private readonly utf8 = new Utf8Chunks();
  private pending = '';
  /** The current line is too long: everything up to the next LF is dropped. */
  private skipping = false;
  private lineNo = 0;

  constructor(private readonly maxLineChars = DEFAULT_MAX_LINE_CHARS) {}

  /** Feeds one chunk; returns the lines it completed. */
  push(chunk: Buffer | string): NdjsonLine[] {
    const text = this.utf8.text(chunk);
    const out: NdjsonLine[] = [];
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      this.lineNo++;
      if (this.skipping) {
        this.skipping = false;
      } else {
        const piece = text.slice(start, nl);
        if (this.pending.length + piece.length > this.maxLineChars + 1) {
          out.push(this.tooLong());
        } else {
          this.emit(this.pending + piece, out);
        }
      }
      this.pending = '';
      start = nl + 1;
    }
    if (start < text.length && !this.skipping) {
      const rest = text.slice(start);
      if (this.pending.length + rest.length > this.maxLineChars + 1) {
        // Report it now (with the number it will have) and drop the rest of the line as it comes.
        out.push(this.tooLong(this.lineNo + 1));
        this.pending = '';
        this.skipping = true;
      } else {
        this.pending += rest;
      }
    }
    return out;
  }

  /** Ends the input; returns the last line when it had no final LF. */
  end(): NdjsonLine[] {
    const out: NdjsonLine[] = [];
    const rest = this.utf8.end();
    if (rest) out.push(...this.push(rest));
    if (!this.skipping && this.pending.length > 0) {
      this.lineNo++;
      this.emit(this.pending, out);
    }
    this.pending = '';
    this.skipping = false;
    return out;
  }

  private emit(raw: string, out: NdjsonLine[]): void {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.length > this.maxLineChars) {
      out.push(this.tooLong());
      return;
    }
    if (isBlank(text)) return;
    out.push({ line: this.lineNo, text });
  }

  private tooLong(line = this.lineNo): NdjsonLine {
    return { line, error: `line is longer than ${this.maxLineChars} characters` };
  }
}

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}
