import { randomUUID } from 'node:crypto';
import type { ImportPerson, StoredFields } from './import';
import { DEFAULT_LIST_ID, DEFAULT_LIST_NAME, type SandboxOptions } from './options';

/**
 * The in-memory Constant Contact account of the sandbox: lists, custom fields, contacts and the
 * activity queue. Records are kept lean: a benchmark pushes a million contacts through it.
 */

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
  persons: ImportPerson[];
}

export interface RemovePayload {
  kind: 'remove';
  source: { listIds: string[] } | { contactIds: string[] } | { allActiveContacts: true };
  targets: string[];
}

export interface ExportPayload {
  kind: 'export';
  listIds: string[] | undefined;
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
  /** Counts of the status object; final once applied. */
  status: Record<string, number>;
  payload: ImportPayload | RemovePayload | ExportPayload | undefined;
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

const DAY = 86_400_000;

function contactIdPrefix(): string {
  // A random UUID's first 24 characters (8-4-4-4-); the last 12 hex digits carry the contact's seq.
  return randomUUID().slice(0, 24);
}

export function labelToName(label: string): string {
  return label.trim().replace(/\s+/g, '_');
}

export class SandboxState {
  lists = new Map<string, ContactList>();
  customFields = new Map<string, CustomField>();
  customFieldIdByName = new Map<string, string>();
  /** Contacts by seq (index). */
  contacts: Contact[] = [];
  /** Contacts by lowercased email. */
  byEmail = new Map<string, Contact>();
  activities = new Map<string, Activity>();
  /** Activities not yet applied, in queue order (completesAt never decreases). */
  private queue: Activity[] = [];
  private queueHead = 0;
  private idPrefix = contactIdPrefix();
  stats: SandboxStats = emptyStats();
  /** Current per-contact activity duration (faults can change it). */
  importMsPerContact: number;

  constructor(private readonly options: SandboxOptions) {
    this.importMsPerContact = options.importMsPerContact;
    this.reset();
  }

  now(): number {
    return this.options.now();
  }

  /** Contact times are offsets from this instant. */
  timeBase = 0;

  /** Absolute time (ms since epoch) of a contact time offset. */
  time(offset: number): number {
    return this.timeBase + offset;
  }

  /** Empty account: only the default list (with no members); counters zeroed. */
  reset(): void {
    const now = this.now();
    this.timeBase = now;
    this.lists.clear();
    this.customFields.clear();
    this.customFieldIdByName.clear();
    this.contacts = [];
    this.byEmail.clear();
    this.activities.clear();
    this.queue = [];
    this.queueHead = 0;
    this.idPrefix = contactIdPrefix();
    this.stats = emptyStats();
    this.importMsPerContact = this.options.importMsPerContact;
    this.lists.set(DEFAULT_LIST_ID, {
      id: DEFAULT_LIST_ID,
      name: DEFAULT_LIST_NAME,
      description: '',
      favorite: false,
      createdAt: now,
      updatedAt: now,
      members: new Set(),
    });
  }

  // ---- lists and custom fields ----

  findListByName(name: string): ContactList | undefined {
    const wanted = name.trim().toLowerCase();
    for (const list of this.lists.values()) if (list.name.toLowerCase() === wanted) return list;
    return undefined;
  }

  createList(name: string, description = ''): ContactList {
    const now = this.now();
    const list: ContactList = {
      id: randomUUID(),
      name: name.trim(),
      description,
      favorite: false,
      createdAt: now,
      updatedAt: now,
      members: new Set(),
    };
    this.lists.set(list.id, list);
    return list;
  }

  createCustomField(label: string, type: 'string' | 'date'): CustomField {
    const now = this.now();
    const field: CustomField = { id: randomUUID(), label: label.trim(), name: labelToName(label), type, createdAt: now, updatedAt: now };
    this.customFields.set(field.id, field);
    this.customFieldIdByName.set(field.name, field.id);
    return field;
  }

  // ---- contacts ----

  contactId(c: Contact): string {
    return this.idPrefix + c.seq.toString(16).padStart(12, '0');
  }

  contactById(id: string): Contact | undefined {
    if (id.length !== 36 || !id.startsWith(this.idPrefix)) return undefined;
    const hex = id.slice(24);
    if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
    return this.contacts[parseInt(hex, 16)];
  }

  contactByEmail(email: string): Contact | undefined {
    return this.byEmail.get(email.trim().toLowerCase());
  }

  private addContact(email: string, key: string, now: number): Contact {
    const c = new Contact(this.contacts.length, email, now - this.timeBase);
    this.contacts.push(c);
    this.byEmail.set(key, c);
    return c;
  }

  /** Marks contacts unsubscribed, creating those the account does not have. */
  unsubscribe(emails: string[]): { unsubscribed: number; created: number } {
    const now = this.now();
    let created = 0;
    let unsubscribed = 0;
    for (const raw of emails) {
      const email = raw.trim();
      const lower = email.toLowerCase();
      let c = this.byEmail.get(lower);
      if (!c) {
        c = this.addContact(email, lower === email ? email : lower, now);
        created++;
      }
      if (c.permission !== 'unsubscribed') {
        c.permission = 'unsubscribed';
        c.optOut = now - this.timeBase;
        c.updated = now - this.timeBase;
        unsubscribed++;
      }
    }
    return { unsubscribed, created };
  }

  // ---- activities ----

  /** Applies every activity whose time has come, in queue order. Called before each request. */
  tick(): void {
    const now = this.now();
    while (this.queueHead < this.queue.length && this.queue[this.queueHead].completesAt <= now) {
      const activity = this.queue[this.queueHead];
      this.queue[this.queueHead++] = undefined as unknown as Activity;
      this.apply(activity);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  /** Non-terminal activities (after tick()). */
  queuedActivities(): number {
    return this.queue.length - this.queueHead;
  }

  enqueue(kind: ActivityKind, itemsTotal: number, payload: Activity['payload'], status: Record<string, number>): Activity {
    const now = this.now();
    const last = this.queue.length > this.queueHead ? this.queue[this.queue.length - 1] : undefined;
    const startsAt = Math.max(now, last ? last.completesAt : now);
    const ms = this.importMsPerContact;
    const duration = ms > 0 ? Math.max(this.options.importMinMs, itemsTotal * ms) : 0;
    const activity: Activity = {
      id: randomUUID(),
      kind,
      createdAt: now,
      startsAt,
      completesAt: startsAt + duration,
      itemsTotal,
      applied: false,
      status,
      payload,
    };
    this.activities.set(activity.id, activity);
    this.queue.push(activity);
    return activity;
  }

  activityState(a: Activity): { state: ActivityState; percentDone: number; startedAt?: number } {
    if (a.applied) return { state: 'completed', percentDone: 100, startedAt: a.startsAt };
    const now = this.now();
    const duration = a.completesAt - a.startsAt;
    const fraction = duration > 0 ? Math.min(0.99, Math.max(0, (now - a.startsAt) / duration)) : 0;
    // initialized while queued and through the first fifth of its own work, then processing.
    if (now < a.startsAt || fraction < 0.2) return { state: 'initialized', percentDone: 0 };
    return { state: 'processing', percentDone: Math.floor(fraction * 100), startedAt: a.startsAt };
  }

  /** Activities of the last 10 days, newest first. */
  recentActivities(): Activity[] {
    const since = this.now() - 10 * DAY;
    const out: Activity[] = [];
    for (const a of this.activities.values()) if (a.createdAt >= since) out.push(a);
    return out.reverse();
  }

  private apply(a: Activity): void {
    const p = a.payload;
    if (p?.kind === 'import') this.applyImport(a, p);
    else if (p?.kind === 'remove') this.applyRemove(a, p);
    else if (p?.kind === 'export') this.applyExport(a, p);
    a.payload = undefined;
    a.applied = true;
    a.status.items_completed_count = a.status.items_total_count ?? a.itemsTotal;
  }

  private applyImport(a: Activity, p: ImportPayload): void {
    const now = a.completesAt;
    const lists: ContactList[] = [];
    for (const id of p.listIds) {
      const list = this.lists.get(id);
      if (list) lists.push(list);
    }
    let cannotAdd = 0;
    for (const person of p.persons) {
      let c = this.byEmail.get(person.key);
      if (!c) c = this.addContact(person.email, person.key, now);
      else c.updated = now - this.timeBase;
      if (person.first_name !== undefined) c.firstName = person.first_name;
      if (person.last_name !== undefined) c.lastName = person.last_name;
      if (person.extra) c.extra = c.extra ? { ...c.extra, ...person.extra } : person.extra;
      if (person.cf) c.cf = c.cf ? { ...c.cf, ...person.cf } : person.cf;
      if (c.permission === 'unsubscribed') {
        cannotAdd++;
        continue;
      }
      for (const list of lists) list.members.add(c);
    }
    for (const list of lists) list.updatedAt = now;
    a.status.person_count = p.persons.length;
    a.status.cannot_add_to_list_count = cannotAdd;
  }

  private applyRemove(a: Activity, p: RemovePayload): void {
    const targets: ContactList[] = [];
    for (const id of p.targets) {
      const list = this.lists.get(id);
      if (list) targets.push(list);
    }
    let removed = 0;
    let persons = 0;
    let errors = 0;
    const removeFrom = (c: Contact) => {
      for (const t of targets) if (t.members.delete(c)) removed++;
    };
    if ('allActiveContacts' in p.source) {
      const seen = new Set<Contact>();
      for (const t of targets) {
        for (const c of [...t.members]) {
          if (c.permission === 'unsubscribed') continue;
          t.members.delete(c);
          removed++;
          seen.add(c);
        }
      }
      persons = seen.size;
    } else if ('contactIds' in p.source) {
      for (const id of new Set(p.source.contactIds)) {
        const c = this.contactById(id);
        if (!c) {
          errors++;
          continue;
        }
        persons++;
        removeFrom(c);
      }
    } else {
      const sources = p.source.listIds.map((id) => this.lists.get(id)).filter((l): l is ContactList => !!l);
      const contacts = sources.length === 1 ? [...sources[0].members] : [...new Set(sources.flatMap((l) => [...l.members]))];
      persons = contacts.length;
      for (const c of contacts) removeFrom(c);
    }
    for (const t of targets) t.updatedAt = a.completesAt;
    this.stats.removedMemberships += removed;
    a.status.items_total_count = persons + errors;
    a.status.person_count = persons;
    a.status.error_count = errors;
    a.status.memberships_removed_count = removed;
  }

  private applyExport(a: Activity, p: ExportPayload): void {
    let contacts: Contact[];
    if (!p.listIds) contacts = this.contacts.filter((c) => c.permission !== 'unsubscribed');
    else {
      const lists = p.listIds.map((id) => this.lists.get(id)).filter((l): l is ContactList => !!l);
      contacts = lists.length === 1 ? [...lists[0].members] : [...new Set(lists.flatMap((l) => [...l.members]))];
    }
    a.exported = contacts;
    a.exportFields = p.fields;
    a.status.items_total_count = contacts.length;
    a.status.person_count = contacts.length;
  }
}
