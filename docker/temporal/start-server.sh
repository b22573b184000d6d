#!/bin/sh
# Starts temporal-server with this folder's configuration (config/segment-export.yaml, a template
# filled from the environment). The one way the server starts: the temporal service of
# docker-compose.yml runs this script, and so does `npm run cluster` (scripts/cluster.js).
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
# Bound to every interface (a container): the other services reach this one at the container's address.
if [ "${BIND_ON_IP:-}" = "0.0.0.0" ] && [ -z "${TEMPORAL_BROADCAST_ADDRESS:-}" ]; then
  TEMPORAL_BROADCAST_ADDRESS="$(hostname -i | awk '{print $1}')"
  export TEMPORAL_BROADCAST_ADDRESS
fi
: "${DYNAMIC_CONFIG_FILE_PATH:=$HERE/dynamicconfig.yaml}"
export DYNAMIC_CONFIG_FILE_PATH
exec temporal-server --root "$HERE" --config config --env segment-export --allow-no-auth start
