#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas up to the version of the
# schema files: a one-shot job of docker-compose.yml (temporalio/admin-tools), and a step of `npm
# run cluster` (with temporal-sql-tool and the schema files of the server module). Safe to run again
# on every start: that is also how a Temporal upgrade gets its schema changes.
set -eu
: "${SQL_HOST:=postgresql}" "${SQL_PORT:=5432}" "${SQL_USER:?}" "${SQL_PASSWORD=}"
export SQL_PASSWORD
SCHEMA="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"
# The same names temporalio/server reads (its defaults).
DBNAME="${DBNAME:-temporal}"
VISIBILITY_DBNAME="${VISIBILITY_DBNAME:-temporal_visibility}"

if command -v nc >/dev/null; then
  until nc -z "$SQL_HOST" "$SQL_PORT"; do echo "waiting for PostgreSQL at $SQL_HOST:$SQL_PORT"; sleep 1; done
fi

for db in "$DBNAME" "$VISIBILITY_DBNAME"; do
  dir=temporal
  [ "$db" = "$VISIBILITY_DBNAME" ] && dir=visibility
  tool="temporal-sql-tool --plugin postgres12 --ep $SQL_HOST -p $SQL_PORT -u $SQL_USER --db $db"
  $tool create 2>/dev/null || echo "database $db exists"
  # setup-schema -v 0.0 only creates the version table; it fails harmlessly when it exists.
  $tool setup-schema -v 0.0 2>/dev/null || true
  $tool update-schema -d "$SCHEMA/$dir/versioned"
done
echo "Temporal schema is up to date"
