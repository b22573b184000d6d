import { StringDecoder } from 'node:string_decoder';

/**
 * The text of a stream of UTF-8 chunks, chunk by chunk: a character split between two chunks comes
 * whole with the second, and a byte order mark at the start of the stream is dropped.
 */
export class Utf8Chunks {
  private readonly decoder = new StringDecoder('utf8');
  private started = false;

  text(chunk: Buffer | string): string {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return text;
  }

  /** What the decoder still holds at the end of the stream (an incomplete character). */
  end(): string {
    return this.decoder.end();
  }
}
