import type { ImportContact } from './types';

/**
 * Packs mapped contacts into bulk JSON import bodies (`POST /activities/contacts_json_import`):
 * `{"import_data":[...],"list_ids":[...]}` with at most `maxContacts` contacts and strictly fewer
 * than `maxBytes` UTF-8 bytes, envelope included. Constant Contact imports only the first 4 MB of a
 * body and drops the rest silently, so the cut is made here, by count and by serialized bytes.
 *
 * Streaming: contacts go in one at a time, each serialized once; only the body being filled is held.
 * A contact is never split across bodies or dropped.
 */

export interface PackerOptions {
  listIds: readonly string[];
  /** Contacts per body (Constant Contact: 40,000). */
  maxContacts: number;
  /** A body stays strictly under this many bytes (Constant Contact: 4 MB). */
  maxBytes: number;
}

/** One complete import request body and what is in it. */
export interface PackedImport<Tag> {
  body: string;
  /** UTF-8 byte length of `body`. */
  bytes: number;
  contacts: number;
  /** The tags given with the contacts, in order (e.g. snapshot sequence numbers). */
  tags: Tag[];
}

export class ContactTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`one contact serializes to ${bytes} bytes: with the envelope it cannot fit in an import body under ${maxBytes} bytes`);
    this.name = 'ContactTooLargeError';
  }
}

const PREFIX = '{"import_data":[';

export class ImportPacker<Tag = unknown> {
  private readonly suffix: string;
  private readonly envelopeBytes: number;
  private parts: string[] = [];
  private tags: Tag[] = [];
  /** Bytes of the body as it would be serialized now (envelope + contacts + commas). */
  private bytes: number;

  constructor(private readonly options: PackerOptions) {
    if (options.listIds.length < 1 || options.listIds.length > 50) throw new Error('an import names 1 to 50 lists');
    if (!(options.maxContacts >= 1)) throw new Error('maxContacts must be at least 1');
    this.suffix = `],"list_ids":${JSON.stringify(options.listIds)}}`;
    this.envelopeBytes = Buffer.byteLength(PREFIX) + Buffer.byteLength(this.suffix);
    if (this.envelopeBytes >= options.maxBytes) throw new Error('maxBytes is smaller than the empty import envelope');
    this.bytes = this.envelopeBytes;
  }

  /** Contacts in the body being filled. */
  get pending(): number {
    return this.parts.length;
  }

  /**
   * Adds one contact. Returns the previous body when this contact did not fit in it any more (the
   * contact then starts the next body), otherwise undefined.
   */
  add(contact: ImportContact, tag: Tag): PackedImport<Tag> | undefined {
    return this.addJson(JSON.stringify(contact), tag);
  }

  /** `add` for a contact already serialized (a caller that also hashes it serializes it once). */
  addJson(json: string, tag: Tag): PackedImport<Tag> | undefined {
    const size = Buffer.byteLength(json);
    if (this.envelopeBytes + size >= this.options.maxBytes) throw new ContactTooLargeError(size, this.options.maxBytes);
    let done: PackedImport<Tag> | undefined;
    const n = this.parts.length;
    if (n > 0 && (n >= this.options.maxContacts || this.bytes + 1 + size >= this.options.maxBytes)) done = this.take();
    this.bytes += (this.parts.length > 0 ? 1 : 0) + size;
    this.parts.push(json);
    this.tags.push(tag);
    if (this.parts.length >= this.options.maxContacts && !done) return this.take();
    return done;
  }

  /** The last, partly filled body, or undefined when nothing is pending. */
  finish(): PackedImport<Tag> | undefined {
    return this.parts.length > 0 ? this.take() : undefined;
  }

  private take(): PackedImport<Tag> {
    const body = PREFIX + this.parts.join(',') + this.suffix;
    const packed: PackedImport<Tag> = { body, bytes: this.bytes, contacts: this.parts.length, tags: this.tags };
    this.parts = [];
    this.tags = [];
    this.bytes = this.envelopeBytes;
    return packed;
  }
}

/** Packs a stream of tagged contacts into import bodies, yielding each as soon as it is complete. */
export function* packImports<Tag>(
  contacts: Iterable<{ contact: ImportContact; tag: Tag }>,
  options: PackerOptions,
): Generator<PackedImport<Tag>> {
  const packer = new ImportPacker<Tag>(options);
  for (const { contact, tag } of contacts) {
    const done = packer.add(contact, tag);
    if (done) yield done;
  }
  const last = packer.finish();
  if (last) yield last;
}

/** The same for an async source (a database cursor, a stream). */
export async function* packImportsAsync<Tag>(
  contacts: AsyncIterable<{ contact: ImportContact; tag: Tag }> | Iterable<{ contact: ImportContact; tag: Tag }>,
  options: PackerOptions,
): AsyncGenerator<PackedImport<Tag>> {
  const packer = new ImportPacker<Tag>(options);
  for await (const { contact, tag } of contacts) {
    const done = packer.add(contact, tag);
    if (done) yield done;
  }
  const last = packer.finish();
  if (last) yield last;
}
