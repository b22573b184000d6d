import type { ImportPerson } from './import';
import { unpackPersons } from './import-body';
import type { Activity, Contact, ContactList, ExportPayload, ImportPayload, RemovePayload } from './model';
import type { SandboxState } from './state';

// What a bulk activity does to the account when its time comes (SandboxState.settle applies them in
// queue order): an import adds or updates contacts and list memberships, a removal takes
// memberships away, a contact export takes a snapshot of the members it names.

/**
 * Applies an activity. An import goes a batch of contacts at a time and yields between batches (the
 * caller lets the event loop run there); the others go at once.
 */
export function* applyActivity(state: SandboxState, a: Activity): Generator<void, void> {
  const p = a.payload;
  if (p?.kind === 'import') yield* applyImport(state, a, p);
  else if (p?.kind === 'remove') applyRemove(state, a, p);
  else if (p?.kind === 'export') applyExport(state, a, p);
}

/** An import: contacts added or updated; unsubscribed ones are never put back on a list. */
function* applyImport(state: SandboxState, a: Activity, p: ImportPayload): Generator<void, void> {
  const now = a.completesAt;
  const lists = state.listsOf(p.listIds);
  let cannotAdd = 0;
  let batches = 0;
  for (const persons of unpackPersons(p.persons)) {
    if (batches++ > 0) yield;
    for (const person of persons) if (!importPerson(state, person, now, lists)) cannotAdd++;
  }
  for (const list of lists) list.updatedAt = now;
  a.status.person_count = p.persons.count;
  a.status.cannot_add_to_list_count = cannotAdd;
}

/** Adds or updates one contact and puts it on the lists; false when it is unsubscribed (kept off them). */
function importPerson(state: SandboxState, person: ImportPerson, now: number, lists: ContactList[]): boolean {
  let c = state.byEmail.get(person.key);
  if (!c) c = state.addContact(person.email, person.key, now);
  else c.updated = now - state.timeBase;
  if (person.first_name !== undefined) c.firstName = person.first_name;
  if (person.last_name !== undefined) c.lastName = person.last_name;
  if (person.extra) c.extra = c.extra ? { ...c.extra, ...person.extra } : person.extra;
  if (person.cf) c.cf = c.cf ? { ...c.cf, ...person.cf } : person.cf;
  if (c.permission === 'unsubscribed') return false;
  for (const list of lists) list.members.add(c);
  return true;
}

/** A removal of list memberships, by contact ids, by source lists or of all active contacts. */
export function applyRemove(state: SandboxState, a: Activity, p: RemovePayload): void {
  const targets = state.listsOf(p.targets);
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
      const c = state.contactById(id);
      if (!c) {
        errors++;
        continue;
      }
      persons++;
      removeFrom(c);
    }
  } else {
    const contacts = state.membersOf(p.source.listIds);
    persons = contacts.length;
    for (const c of contacts) removeFrom(c);
  }
  for (const t of targets) t.updatedAt = a.completesAt;
  state.stats.removedMemberships += removed;
  a.status.items_total_count = persons + errors;
  a.status.person_count = persons;
  a.status.error_count = errors;
  a.status.memberships_removed_count = removed;
}

/** A contact export: the contacts its source names at this moment, filtered by status. */
export function applyExport(state: SandboxState, a: Activity, p: ExportPayload): void {
  const { contactIds, listIds } = p.source;
  let contacts: Contact[];
  if (contactIds) contacts = [...new Set(contactIds.map((id) => state.contactById(id)).filter((c): c is Contact => !!c))];
  else if (listIds) contacts = state.membersOf(listIds);
  else contacts = state.contacts;
  const { status } = p;
  const unsubscribed = (c: Contact) => c.permission === 'unsubscribed';
  contacts = contacts.filter((c) => !status || (status !== 'removed' && unsubscribed(c) === (status === 'unsubscribed')));
  a.exported = contacts;
  a.exportFields = p.fields;
  a.status.items_total_count = contacts.length;
  a.status.person_count = contacts.length;
}
