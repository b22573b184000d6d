import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { applyActivity } from './activities';
import { type Activity, type ActivityKind, type ActivityState, Contact, type ContactList, type CustomField, emptyStats, labelToName, type SandboxStats } from './model';
import { DEFAULT_ACCOUNT_ID, DEFAULT_LIST_ID, DEFAULT_LIST_NAME, type SandboxOptions } from './options';

export * from './model';

/**
 * The in-memory Constant Contact account of the sandbox: lists, custom fields, contacts and the
 * activity queue. The records are in model.ts, what an activity does in activities.ts.
 */

const DAY = 86_400_000;

function contactIdPrefix(): string {
  // A random UUID's first 24 characters (8-4-4-4-); the last 12 hex digits carry the contact's seq.
  return randomUUID().slice(0, 24);
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
  /**
   * The Constant Contact account an authorization lands on now (`encoded_account_id`): the admin
   * logged in to it. Changing it (PUT /__sandbox/account) plays an admin who logs in to another
   * account; the records stay those of this one sandbox.
   */
  accountId = DEFAULT_ACCOUNT_ID;

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
    this.accountId = DEFAULT_ACCOUNT_ID;
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

  /** The lists of `ids` that exist, in the order of `ids`. */
  listsOf(ids: readonly string[]): ContactList[] {
    return ids.map((id) => this.lists.get(id)).filter((l): l is ContactList => !!l);
  }

  /** The members of the lists of `ids`, each contact once. */
  membersOf(ids: readonly string[]): Contact[] {
    const lists = this.listsOf(ids);
    return lists.length === 1 ? [...lists[0].members] : [...new Set(lists.flatMap((l) => [...l.members]))];
  }

  /** The memberships of the lists of `ids` (a contact on two of them counts twice). */
  membershipCount(ids: readonly string[]): number {
    return this.listsOf(ids).reduce((n, l) => n + l.members.size, 0);
  }

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

  /** A new contact (key: the lowercased email). */
  addContact(email: string, key: string, now: number): Contact {
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

  /**
   * Contacts who leave one list by themselves (Constant Contact's "Update profile"): off this list,
   * still subscribed to the account. Unknown emails and non-members are ignored.
   */
  leaveList(list: ContactList, emails: string[]): { left: number } {
    const now = this.now();
    let left = 0;
    for (const email of emails) {
      const c = this.contactByEmail(email);
      if (!c || !list.members.delete(c)) continue;
      c.updated = now - this.timeBase;
      left++;
    }
    if (left) list.updatedAt = now;
    return { left };
  }

  // ---- activities ----

  /** The application of due activities under way, if any. */
  private applying: Promise<void> | undefined;

  /**
   * Applies every activity whose time has come, in queue order; called before each request is
   * handled, so no request sees an activity due but not applied. A large import is applied a
   * batch of contacts at a time, yielding to the event loop in between, so requests that arrive
   * meanwhile are stamped when they arrive; they wait for the same application to finish.
   * undefined when nothing is due (the request goes on at once).
   */
  settle(): Promise<void> | undefined {
    if (!this.applying && this.due()) this.applying = this.applyDue().finally(() => (this.applying = undefined));
    return this.applying;
  }

  private due(): Activity | undefined {
    const head = this.queueHead < this.queue.length ? this.queue[this.queueHead] : undefined;
    return head && head.completesAt <= this.now() ? head : undefined;
  }

  private async applyDue(): Promise<void> {
    for (let a = this.due(); a; a = this.due()) {
      // Stop if the account is reset meanwhile: the activity is no longer at the head of the queue.
      const current = () => this.queue[this.queueHead] === a;
      if (a.ready) await a.ready;
      if (!current()) return;
      if (a.outcome !== 'failed') {
        for (const _batch of applyActivity(this, a)) {
          await yieldToEventLoop();
          if (!current()) return;
        }
      }
      a.payload = undefined;
      a.ready = undefined;
      a.applied = true;
      a.status.items_completed_count = a.status.items_total_count ?? a.itemsTotal;
      this.queue[this.queueHead++] = undefined as unknown as Activity;
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  /** Non-terminal activities (after settle()). */
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
    if (a.applied) return { state: a.outcome ?? 'completed', percentDone: 100, startedAt: a.startsAt };
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
}
