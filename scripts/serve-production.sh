#!/usr/bin/env bash
# Run one read-only payerkb replica: build the database and its search index from policies/
# (BUILD=0 to serve what is there), write the inspect file, and serve it immutable with
# payerkb's limits (SQL time limit, row limits, no facet suggestions) on HOST:PORT.
# Several replicas, each running this on its own copy of the repository, can sit behind any
# load balancer: they share nothing and never write. Health check: GET /-/versions.json.
#
#   PORT=8001 HOST=0.0.0.0 scripts/serve-production.sh
#   BUILD=0 DB=/srv/payerkb/payerkb.db scripts/serve-production.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PAYERKB=${PAYERKB:-.venv/bin/payerkb}
DB=${DB:-db/payerkb.db}
HOST=${HOST:-0.0.0.0}
PORT=${PORT:-8001}

if [ "${BUILD:-1}" = 1 ]; then
  "$PAYERKB" build --out "$DB"
fi
if [ ! -f "$DB" ]; then
  echo "serve-production: $DB does not exist (run with BUILD=1, or point DB at a built database)" >&2
  exit 1
fi
"$PAYERKB" deploy inspect --db "$DB"
exec "$PAYERKB" serve --db "$DB" --host "$HOST" --port "$PORT"
