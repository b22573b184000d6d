import type { Migration } from './migration';

export const membersUnchecked: Migration = {
  version: 70,
  name: 'segment members without a foreign key check (PostgreSQL)',
  // PostgreSQL checks a foreign key with a trigger and a query per inserted row: about half of the
  // time of a refresh that adds a million members. The refresh and the delete of a segment lock its
  // row first and the delete removes the members itself, so no member outlives its segment without
  // it. SQLite's check is an index lookup that costs nothing measurable; it keeps it.
  sql: (d) => (d === 'postgres' ? 'ALTER TABLE segment_members DROP CONSTRAINT IF EXISTS segment_members_segment_id_fkey' : ''),
};
