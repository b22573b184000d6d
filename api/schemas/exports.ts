import { z } from 'zod';
import { idPattern, type IdPrefix } from '../../common/ids';
import { cronProblem } from '../../services/cron';

/**
 * The zod schemas of exports: the same declarations validate requests and produce the OpenAPI
 * document, so that one definition says what a valid export is. Cron expressions are checked by
 * the one cron parser (services/cron.ts), the one that also builds their Temporal Schedules.
 */

/** Constant Contact allows at most 25 custom fields per contact. */
export const MAX_CUSTOM_FIELDS = 25;

const idOf = (prefix: IdPrefix) => z.string().regex(idPattern(prefix), `must be an id of the form ${prefix}_…`);

export const connectionIdSchema = idOf('con');
export const segmentIdSchema = idOf('seg');
export const exportIdSchema = idOf('exp');
export const runIdSchema = idOf('run');

/** A profile attribute name, as data (never spliced into SQL). */
const attributeName = z.string().min(1).max(256);

/** A Constant Contact custom field name (the label with blanks as underscores). */
const customFieldName = z.string().min(1).max(255);

/** Constant Contact list ids are UUIDs (36 characters, 8-4-4-4-12 hex digits). */
export const listIdSchema = z.guid('must be a Constant Contact list id: a UUID such as 00000000-0000-4000-8000-000000000001');

export const mappingSchema = z
  .object({
    email: z
      .string()
      .min(1, 'email is required: name the profile attribute that holds the email address')
      .max(256)
      .describe('the profile attribute holding the email address (required)'),
    firstName: attributeName.optional(),
    lastName: attributeName.optional(),
    customFields: z
      .record(customFieldName, attributeName)
      .refine((fields) => Object.keys(fields).length <= MAX_CUSTOM_FIELDS, {
        message: `at most ${MAX_CUSTOM_FIELDS} custom fields (Constant Contact's limit per contact)`,
      })
      .optional()
      .describe('Constant Contact custom field name → profile attribute name'),
  })
  .strict();
export type MappingInput = z.infer<typeof mappingSchema>;

// ---------------------------------------------------------------- cron and time zone

/** The canonical IANA name of a time zone (e.g. `europe/riga` → `Europe/Riga`), or null when unknown. */
export function canonicalTimeZone(name: string): string | null {
  if (!/^[A-Za-z0-9_+\-/]{1,64}$/.test(name)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

export const cronSchema = z
  .string()
  .max(200)
  .superRefine((value, ctx) => {
    const problem = cronProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((value) => value.trim().split(/\s+/).join(' '))
  .describe('a 5-field cron expression: minute hour day-of-month month day-of-week (0-6, 0 = Sunday)');

export const timeZoneSchema = z
  .string()
  .transform((value, ctx) => {
    const canonical = canonicalTimeZone(value);
    if (!canonical) {
      ctx.addIssue({ code: 'custom', message: 'must be an IANA time zone such as Europe/Riga or UTC' });
      return z.NEVER;
    }
    return canonical;
  })
  .describe('an IANA time zone such as Europe/Riga');

export const scheduleSchema = z
  .discriminatedUnion('mode', [
    z.object({ mode: z.literal('with-refresh') }).strict(),
    z.object({ mode: z.literal('off') }).strict(),
    z.object({ mode: z.literal('custom'), cron: cronSchema, timezone: timeZoneSchema }).strict(),
  ])
  .describe('with-refresh: runs with every scheduled refresh; custom: its own cron in a time zone; off: on demand only');
export type ScheduleInput = z.infer<typeof scheduleSchema>;

// ---------------------------------------------------------------- exports

export const syncModeSchema = z.enum(['upsert', 'mirror']);

const exportName = z.string().trim().min(1).max(200);
const segmentIds = z
  .array(segmentIdSchema)
  .min(1, 'name at least one segment')
  .max(100)
  .refine((ids) => new Set(ids).size === ids.length, { message: 'segment ids must be unique' });
/** The removal guard of mirror mode unless an admin decides otherwise. */
export const DEFAULT_MAX_REMOVAL_PERCENT = 20;
const maxRemovalPercent = z.number().min(0).max(100);

export const exportCreateSchema = z
  .object({
    name: exportName,
    connectionId: connectionIdSchema,
    listId: listIdSchema,
    mapping: mappingSchema,
    segmentIds,
    syncMode: syncModeSchema.default('upsert'),
    maxRemovalPercent: maxRemovalPercent.default(DEFAULT_MAX_REMOVAL_PERCENT).describe('mirror mode: a run removing more than this share of the list waits for approval'),
    schedule: scheduleSchema.default({ mode: 'with-refresh' }),
  })
  .strict();
export type ExportCreateInput = z.infer<typeof exportCreateSchema>;

/** PATCH: any of the create fields; objects (mapping, schedule) and segmentIds are replaced whole. */
export const exportPatchSchema = z
  .object({
    name: exportName.optional(),
    connectionId: connectionIdSchema.optional(),
    listId: listIdSchema.optional(),
    mapping: mappingSchema.optional(),
    segmentIds: segmentIds.optional(),
    syncMode: syncModeSchema.optional(),
    maxRemovalPercent: maxRemovalPercent.optional(),
    schedule: scheduleSchema.optional(),
  })
  .strict()
  .refine((patch) => Object.values(patch).some((v) => v !== undefined), { message: 'name at least one field to change' });
export type ExportPatchInput = z.infer<typeof exportPatchSchema>;

export const exportIdParams = z.object({ id: exportIdSchema }).strict();

// ---------------------------------------------------------------- responses

/** An export as the API answers it, without `lastRun` (api/routes/exports.ts adds the run's schema). */
export const exportSettingsSchema = z.object({
  id: z.string(),
  name: z.string(),
  connectionId: z.string().nullable().describe('null when the connection was removed with detachExports=true: the export keeps its settings and does not run'),
  listId: z.string(),
  mapping: mappingSchema,
  segmentIds: z.array(z.string()),
  syncMode: syncModeSchema,
  maxRemovalPercent: z.number(),
  schedule: scheduleSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
});
