import { z } from 'zod';
import { badRequest } from './errors';

/** List endpoints: `limit` 1..500 (default 50) and an opaque `cursor` (api.md). */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(512).optional(),
});
export type PageQuery = z.infer<typeof pageQuery>;

/** Cursors are keyset positions (the last item's sort key), base64url JSON so clients treat them as opaque. */
export function encodeCursor(position: unknown[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): unknown[] | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value)) return value;
  } catch {
    // fall through
  }
  throw badRequest('cursor is not valid', [{ path: ['cursor'], message: 'not a cursor this API issued' }]);
}
