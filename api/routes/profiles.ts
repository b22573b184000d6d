import type { Request } from 'express';
import { z } from 'zod';
import { ApiError, badRequest, notFound } from '../errors';
import { decodeCursor, encodeCursor, pageQuery } from '../../common/paging';
import { CsvHeaderError, importProfiles, MAX_ATTRIBUTES, MAX_PROFILE_ID, storableText, UNSTORABLE, type ImportFormat } from '../../store/profile-import';
import type { RouteDeps } from '../deps';
import type { RouteRegistry } from '../http';

/**
 * Profiles: the streaming import and the profile routes. Admins only, except
 * the attribute summary, which carries no profile data and which contributors need to write an
 * export's mapping.
 */

const ADMIN = ['admin'] as const;
const EVERYONE = ['admin', 'contributor'] as const;

const attributeValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const profileSchema = z.object({
  id: z.string(),
  attributes: z.record(z.string(), attributeValue),
  updatedAt: z.string().describe('ISO 8601 UTC time of the last import that wrote it'),
});
const profileParams = z.strictObject({ id: z.string().min(1).max(MAX_PROFILE_ID).refine(storableText, UNSTORABLE) });

const importResultSchema = z.object({
  received: z.number().int().describe('records read (non-blank lines; CSV: rows after the header)'),
  upserted: z.number().int().describe('records written'),
  rejected: z.number().int().describe('bad records skipped'),
  errors: z.array(z.object({ line: z.number().int(), message: z.string() })).describe('the first 100 bad records: 1-based line number in the body and why'),
});

const IMPORT_DESCRIPTION = [
  'Streams the body into the profile store in transactions of about a quarter MiB each, so memory stays flat for millions of records.',
  'One import runs at a time per store, across every API process: another answers 409 `import_in_progress` (nothing read, nothing changed); send it again when the first has answered.',
  `Each record has \`id\` (a string of 1 to 128 characters) and at most ${MAX_ATTRIBUTES} attributes: any other key (1 to 256 characters) with a string, number, boolean or null value.`,
  "A record upserts by id: its attributes replace the profile's stored attributes.",
  'Bad records (invalid JSON, no id, nested values, wrong field count, …) are skipped and counted; the answer lists the first 100 with their line numbers; an import is never aborted by a bad record.',
  'Records written before a failure of the store or the connection stay written; re-sending the body is safe (upserts).',
  '',
  '`application/x-ndjson`: one JSON object a line; blank lines are ignored; a line may be at most 1 MiB.',
  '',
  `\`text/csv\` (RFC 4180, UTF-8, comma-separated, \`"\` quoting with \`""\` for a quote, CRLF or LF): the first row is the header and names the columns; it must include \`id\`, no name twice and at most ${MAX_ATTRIBUTES + 1} columns (otherwise 400, nothing imported).`,
  'CSV values are kept as strings, as written (no number or boolean conversion: "00123" stays "00123"), so numeric rule operators (`gt` 5) do not match them; send NDJSON for typed values.',
  'An empty cell (nothing, or `""`) is no value: the attribute is not stored for that profile. A row with another number of fields than the header is a bad record. Line numbers count the header as line 1.',
  '',
  'Other content types: 415. Only UTF-8 and no Content-Encoding.',
].join('\n');

export function registerProfilesRoutes(routes: RouteRegistry, deps: RouteDeps): void {
  const { store } = deps;
  const clock = deps.clock ?? (() => new Date());

  routes.add(
    {
      method: 'post',
      path: '/v1/profiles/import',
      summary: 'Import profiles from NDJSON or CSV (streamed upsert by id)',
      description: IMPORT_DESCRIPTION,
      tag: 'profiles',
      roles: ADMIN,
      rawBody: ['application/x-ndjson', 'text/csv'],
      response: { status: 200, schema: importResultSchema },
      errors: {
        400: 'validation_failed: the CSV header row is not usable',
        409: 'import_in_progress: another profile import is running on this store',
        415: 'unsupported_media_type: not application/x-ndjson or text/csv',
      },
      audit: { action: 'profiles.import', resource: 'profiles', id: () => null, summary: (_ctx, result) => importCounts(result) },
    },
    async ({ req }) => {
      const format = importFormat(req);
      try {
        return await deps.metrics.meterImport(req, (body) => importProfiles(body, format, store, { clock }));
      } catch (err) {
        if (err instanceof CsvHeaderError) throw badRequest(err.message, [{ path: ['body', 'header'], message: err.message }]);
        if (req.destroyed || (err as { code?: string }).code === 'ECONNRESET') throw new ApiError(400, 'request_aborted', 'the request was aborted');
        throw err;
      }
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/profiles',
      summary: 'List profiles (in id order)',
      tag: 'profiles',
      roles: ADMIN,
      query: pageQuery,
      response: { status: 200, schema: z.object({ items: z.array(profileSchema), nextCursor: z.string().nullable() }) },
    },
    async ({ query }) => {
      const after = afterId(query.cursor);
      const page = await store.profiles.list(query.limit, after);
      const last = page.items[page.items.length - 1];
      return { items: page.items, nextCursor: page.hasMore && last ? encodeCursor([last.id]) : null };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/profiles/:id',
      summary: 'One profile',
      tag: 'profiles',
      roles: ADMIN,
      params: profileParams,
      response: { status: 200, schema: profileSchema },
      errors: { 404: 'not_found' },
    },
    async ({ params }) => {
      const profile = await store.profiles.get(params.id);
      if (!profile) throw notFound('profile');
      return profile;
    },
  );

  routes.add(
    {
      method: 'delete',
      path: '/v1/profiles/:id',
      summary: 'Delete a profile, its segment memberships and its rows in the rejects and suppressions of runs',
      description: "Removes the profile, its memberships in every segment (their member counts go down) and its rejects and suppressions in every run. Runs already started keep their snapshot.",
      tag: 'profiles',
      roles: ADMIN,
      params: profileParams,
      response: { status: 204, description: 'deleted' },
      errors: { 404: 'not_found' },
      audit: { action: 'profile.delete', resource: 'profile' },
    },
    async ({ params }) => {
      if (!(await store.profiles.delete(params.id, clock().toISOString()))) throw notFound('profile');
      return undefined;
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/profile-attributes',
      summary: 'The attribute names in use, how many profiles have each, and their value types',
      description:
        'For choosing an export mapping and writing segment rules. `profiles` counts the profiles that have the attribute (null values included); `types` lists the value types seen among string, number, boolean and null. Read from a catalog that every import and delete keeps up to date (no scan of the profiles).',
      tag: 'profiles',
      roles: EVERYONE,
      response: {
        status: 200,
        schema: z.object({
          items: z.array(z.object({ name: z.string(), profiles: z.number().int(), types: z.array(z.enum(['string', 'number', 'boolean', 'null'])) })),
        }),
      },
    },
    async () => ({ items: await store.profiles.attributes() }),
  );
}

/** An import in the audit log: its counts, never its records. */
function importCounts(result: unknown): Record<string, unknown> {
  const { received, upserted, rejected } = result as { received: number; upserted: number; rejected: number };
  return { received, upserted, rejected };
}

function importFormat(req: Request): ImportFormat {
  const encoding = req.header('content-encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') {
    throw new ApiError(415, 'unsupported_media_type', 'send the body without Content-Encoding');
  }
  const contentType = req.header('content-type') ?? '';
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType)?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new ApiError(415, 'unsupported_media_type', 'send the body as UTF-8');
  }
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  if (mediaType === 'application/x-ndjson') return 'ndjson';
  if (mediaType === 'text/csv') return 'csv';
  throw new ApiError(415, 'unsupported_media_type', 'send the profiles as application/x-ndjson (one JSON object a line) or text/csv (with a header row)');
}

function afterId(cursor: string | undefined): string | undefined {
  return decodeCursor(cursor, 1, storableText)?.[0] as string | undefined;
}
