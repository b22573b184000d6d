import { z } from 'zod';
import type { ActivityState, ActivityStatus, ContactList } from './types';

// The shapes of Constant Contact's answers the client reads. Extra fields are tolerated: the API
// adds fields over time, and only these are needed.

export const linksSchema = z
  .object({ next: z.object({ href: z.string().min(1) }).nullish() })
  .nullish();

export const listSchema = z.object({
  list_id: z.string().min(1),
  name: z.string(),
  membership_count: z.number().int().nonnegative().nullish(),
});
export const listsPageSchema = z.object({ lists: z.array(listSchema).default([]), _links: linksSchema });

export const customFieldSchema = z.object({
  custom_field_id: z.string().min(1),
  label: z.string(),
  name: z.string().min(1),
  type: z.string(),
});
export const customFieldsPageSchema = z.object({ custom_fields: z.array(customFieldSchema).default([]), _links: linksSchema });

const activityStates = ['initialized', 'processing', 'completed', 'cancelled', 'failed', 'timed_out'] as const satisfies readonly ActivityState[];
const count = z.number().int().nonnegative().nullish();
export const activitySchema = z.object({
  activity_id: z.string().min(1),
  state: z.enum(activityStates),
  percent_done: z.number().nullish(),
  status: z
    .object({
      items_total_count: count,
      items_completed_count: count,
      person_count: count,
      error_count: count,
      correctable_count: count,
      cannot_add_to_list_count: count,
    })
    .nullish(),
});
/** One mapping of an activity's status, for imports and contact exports alike. */
export function activityStatus(a: z.infer<typeof activitySchema>): ActivityStatus {
  const s = a.status ?? {};
  return {
    activityId: a.activity_id,
    state: a.state,
    percentDone: a.percent_done ?? (a.state === 'completed' ? 100 : 0),
    itemsTotal: s.items_total_count ?? 0,
    itemsCompleted: s.items_completed_count ?? 0,
    personCount: s.person_count ?? 0,
    errorCount: s.error_count ?? 0,
    correctableCount: s.correctable_count ?? 0,
    cannotAddToListCount: s.cannot_add_to_list_count ?? 0,
  };
}

export const activitiesPageSchema = z.object({ activities: z.array(activitySchema).default([]), _links: linksSchema });

export const createdActivitySchema = z.object({ activity_id: z.string().min(1) });
export const contactExportSchema = activitySchema.extend({
  _links: z.object({ results: z.object({ href: z.string().min(1) }).nullish() }).nullish(),
});
export const contactsPageSchema = z.object({
  contacts: z
    .array(
      z.object({
        contact_id: z.string().min(1),
        email_address: z.object({ address: z.string() }).nullish(),
      }),
    )
    .default([]),
  _links: linksSchema,
});

/** GET /account/summary: only the id of the account behind a token is read. */
export const accountSummarySchema = z.object({ encoded_account_id: z.string().min(1).max(128) });

export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().nullish(),
  expires_in: z.number().nullish(),
  refresh_token: z.string().min(1).nullish(),
  scope: z.string().nullish(),
});

export const toList = (l: z.infer<typeof listSchema>): ContactList => ({ listId: l.list_id, name: l.name, memberCount: l.membership_count ?? 0 });
