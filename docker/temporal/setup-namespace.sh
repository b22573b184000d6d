#!/bin/sh
# Creates the namespace (temporalio/server, unlike the dev server, creates none) and registers the
# custom search attributes every export run carries: a one-shot job of docker-compose.yml
# (temporalio/admin-tools), and a step of `npm run cluster`.
# Keep the list in step with SEARCH_ATTRIBUTES in scripts/temporal.js (test/ops/compose.test.ts
# checks it). Idempotent.
set -eu
ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_RETENTION:-720h}"

i=0
until temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -gt 120 ] && { echo "Temporal at $ADDRESS is not healthy"; exit 1; }
  sleep 1
done

# A namespace just created takes a few seconds to be known to every service: retry until it is.
retry() {
  n=0
  until "$@"; do
    n=$((n + 1))
    [ "$n" -ge 60 ] && { echo "gave up: $*"; return 1; }
    sleep 1
  done
}

if ! temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  retry temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
fi

list_attributes() {
  existing="$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" 2>/dev/null)"
}
retry list_attributes
for name in ExportId ConnectionId RunTrigger RunStatus; do
  if echo "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    retry temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" --name "$name" --type Keyword
  fi
done
echo "namespace $NAMESPACE is ready"
