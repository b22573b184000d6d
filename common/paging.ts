import { z } from 'zod';
import { invalidInput } from './errors';

/** List endpoints: `limit` 1..500 (default 50) and an opaque `cursor`. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(512).optional(),
});
export type PageQuery = z.infer<typeof pageQuery>;

/** Cursors are keyset positions (the last item's sort key), base64url JSON so clients treat them as opaque. */
export function encodeCursor(position: unknown[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/**
 * The page of a list read with `limit + 1` rows: the extra row only says that there is a next page,
 * which starts after the page's last row (the cursor holds `positionOf(last)`).
 */
export function keysetPage<R>(rows: readonly R[], limit: number, positionOf: (last: R) => unknown[]): { rows: R[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(positionOf(last)) : null };
}

/**
 * The position a cursor stands for; undefined without a cursor. A cursor this API did not issue
 * (not base64url JSON, or a position without `strings` leading strings that `fits`) is invalid input.
 */
export function decodeCursor(cursor: string | undefined, strings = 0, fits: (value: string) => boolean = () => true): unknown[] | undefined {
  if (cursor === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length < strings || !value.slice(0, strings).every((v) => typeof v === 'string' && fits(v))) {
    throw invalidInput('cursor is not valid', [{ path: ['query', 'cursor'], message: 'not a cursor this API issued' }]);
  }
  return value;
}
