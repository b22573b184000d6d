import type { Request, Response } from 'express';
import type { Role } from '../store/types';

/**
 * The rows of a run that name a profile with the raw value it held (rejects: the value mapped as
 * email that could not be sent; suppressions likewise), streamed as NDJSON. One rule for all of
 * them: only admins read the raw value. The mapping of an export may point `email` at any
 * attribute, so for anyone else the value could be any profile data: they get the profile id and
 * the reason, and no `email` field.
 */
export interface PersonalRow {
  profileId: string;
  email: string | null;
  reason: string;
}

export function personalRowView(role: Role | undefined): (row: PersonalRow) => Record<string, unknown> {
  return role === 'admin'
    ? (r) => ({ profileId: r.profileId, email: r.email, reason: r.reason })
    : (r) => ({ profileId: r.profileId, reason: r.reason });
}

/** Streams the rows as NDJSON in 64 KiB writes, waiting while the client reads; stops when it leaves. */
export async function sendPersonalRows(req: Request, res: Response, rows: AsyncIterable<PersonalRow>, role: Role | undefined): Promise<undefined> {
  const view = personalRowView(role);
  res.status(200).setHeader('content-type', 'application/x-ndjson; charset=utf-8');
  let closed = false;
  req.on('close', () => (closed = true));
  let buffer = '';
  for await (const row of rows) {
    if (closed) break;
    buffer += `${JSON.stringify(view(row))}\n`;
    if (buffer.length >= 64 * 1024) {
      if (!res.write(buffer)) await drained(res);
      buffer = '';
    }
  }
  res.end(buffer);
  return undefined;
}

/** Resolves when the response can take more, or is closed. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    res.once('drain', resolve);
    res.once('close', resolve);
  });
}
