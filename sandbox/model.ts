import type { StoredFields } from './import';
import type { PackedPersons } from './import-body';

// The records of the sandbox's in-memory Constant Contact account. They are kept lean: a benchmark
// pushes a million contacts through it.

export type Permission = 'implicit' | 'explicit' | 'unsubscribed' | 'pending_confirmation' | 'not_set';

/**
 * One contact. Times are milliseconds since the state's timeBase (small integers stay unboxed in V8,
 * which matters at a million contacts): use SandboxState.time() for the absolute time.
 */
export class Contact {
  updated: number;
  firstName: string | undefined = undefined;
  lastName: string | undefined = undefined;
  permission: Permission = 'implicit';
  optOut: number | undefined = undefined;
  /** Custom field values by custom_field_id. */
  cf: StoredFields | undefined = undefined;
  /** Other standard fields (job_title, phone, street, ...). */
  extra: StoredFields | undefined = undefined;

  constructor(
    readonly seq: number,
    readonly email: string,
    readonly created: number,
  ) {
    this.updated = created;
  }
}

export interface ContactList {
  id: string;
  name: string;
  description: string;
  favorite: boolean;
  createdAt: number;
  updatedAt: number;
  members: Set<Contact>;
}

export interface CustomField {
  id: string;
  label: string;
  name: string;
  type: 'string' | 'date';
  createdAt: number;
  updatedAt: number;
}

export type ActivityKind = 'import' | 'remove' | 'export';
export type ActivityState = 'initialized' | 'processing' | 'completed' | 'cancelled' | 'failed' | 'timed_out';

export interface ImportPayload {
  kind: 'import';
  listIds: string[];
  /** The valid contacts, packed by the import thread (set once `Activity.ready`); unpacked a batch at a time when applied. */
  persons: PackedPersons;
}

export interface RemovePayload {
  kind: 'remove';
  source: { listIds: string[] } | { contactIds: string[] } | { allActiveContacts: true };
  targets: string[];
}

/** What a contact export reads: some contacts by id, the members of lists, or (empty) every contact. */
export interface ExportSource {
  contactIds?: string[];
  listIds?: string[];
}

export interface ExportPayload {
  kind: 'export';
  source: ExportSource;
  /** active: not unsubscribed; unsubscribed; removed: none (the sandbox deletes no contact). */
  status: 'active' | 'unsubscribed' | 'removed' | undefined;
  fields: string[];
}

export interface Activity {
  id: string;
  kind: ActivityKind;
  createdAt: number;
  /** When the queue reaches it. */
  startsAt: number;
  completesAt: number;
  /** Items it works through (for progress). */
  itemsTotal: number;
  applied: boolean;
  /** Set when the activity is to end failed (a fault): applied then means finished, with nothing done. */
  outcome?: 'failed';
  /** Counts of the status object; final once applied. */
  status: Record<string, number>;
  payload: ImportPayload | RemovePayload | ExportPayload | undefined;
  /** Settles when the payload is complete: an import's contacts arrive from the import thread after its answer. */
  ready?: Promise<void>;
  /** Exports: the contacts exported, fixed at completion. */
  exported?: Contact[];
  exportFields?: string[];
}

export interface SandboxStats {
  requests: number;
  byRoute: Record<string, number>;
  throttled: number;
  throttledPerSecond: number;
  throttledPerDay: number;
  throttledQueue: number;
  maxRequestsInOneSecond: number;
  unauthorized: number;
  importRequests: number;
  importedContacts: number;
  truncatedRequests: number;
  truncatedContacts: number;
  removeRequests: number;
  removedMemberships: number;
  exportRequests: number;
  oauthRequests: number;
  tokenRequests: number;
  tokenThrottled: number;
  injectedErrors: number;
  injectedThrottles: number;
  injectedResets: number;
}

export function emptyStats(): SandboxStats {
  return {
    requests: 0,
    byRoute: {},
    throttled: 0,
    throttledPerSecond: 0,
    throttledPerDay: 0,
    throttledQueue: 0,
    maxRequestsInOneSecond: 0,
    unauthorized: 0,
    importRequests: 0,
    importedContacts: 0,
    truncatedRequests: 0,
    truncatedContacts: 0,
    removeRequests: 0,
    removedMemberships: 0,
    exportRequests: 0,
    oauthRequests: 0,
    tokenRequests: 0,
    tokenThrottled: 0,
    injectedErrors: 0,
    injectedThrottles: 0,
    injectedResets: 0,
  };
}

export function labelToName(label: string): string {
  return label.trim().replace(/\s+/g, '_');
}
