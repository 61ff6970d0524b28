#!/usr/bin/env bash
# `make demo`: the fleet on real input. It builds nimara and applies the development schema
# to a database of its own (nimara_demo). It adds a port, three users and a super admin, and
# clears what an earlier run left under its key prefix (nimara-demo) and in the demo users'
# notifications. Then it starts `nimara worker` and runs demo.mjs, which plays the CRM's Node
# side: it enqueues notifications/create jobs with bullmq and watches the results through
# QueueEvents and Socket.IO browsers.
set -euo pipefail

cd "$(dirname "$0")/../.."

PGHOST=${PGHOST:-127.0.0.1}
PGUSER=${PGUSER:-postgres}
DEMO_DB=${DEMO_DB:-nimara_demo}
COUNT=${COUNT:-30}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export DATABASE_URL="postgres://${PGUSER}@${PGHOST}:5432/${DEMO_DB}?sslmode=disable"
export NIMARA_PREFIX=${NIMARA_PREFIX:-nimara-demo}
export LOG_FORMAT=${LOG_FORMAT:-text}

PORT_ID=00000000-0000-4000-8000-00000000d3e0
USERS=demo-ana,demo-ben,demo-eva

psql_admin() { psql -h "$PGHOST" -U "$PGUSER" -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

if [ ! -d interop/node_modules ]; then
  (cd interop && npm ci --no-audit --no-fund)
fi

echo "demo: building bin/nimara"
go build -o bin/nimara ./cmd/nimara

if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '${DEMO_DB}'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE ${DEMO_DB}"
fi
bin/nimara migrate

psql -h "$PGHOST" -U "$PGUSER" -d "$DEMO_DB" -v ON_ERROR_STOP=1 -q <<SQL
INSERT INTO ports (id, name, slug) VALUES ('${PORT_ID}', 'Port Nimara', 'port-nimara')
ON CONFLICT (id) DO NOTHING;
INSERT INTO users (id, name, email, default_port_id) VALUES
  ('demo-ana', 'Ana', 'ana@demo.example', '${PORT_ID}'),
  ('demo-ben', 'Ben', 'ben@demo.example', '${PORT_ID}'),
  ('demo-eva', 'Eva', 'eva@demo.example', '${PORT_ID}')
ON CONFLICT (id) DO NOTHING;
INSERT INTO users (id, name, email, is_super_admin) VALUES
  ('demo-root', 'Root', 'root@demo.example', true)
ON CONFLICT (id) DO NOTHING;
SQL

# Start from a clean state: the demo's own keys and the demo users' notifications.
redis-cli -u "$REDIS_URL" --scan --pattern "${NIMARA_PREFIX}:*" |
  xargs -r redis-cli -u "$REDIS_URL" unlink >/dev/null
psql -h "$PGHOST" -U "$PGUSER" -d "$DEMO_DB" -v ON_ERROR_STOP=1 -q \
  -c "DELETE FROM notifications WHERE user_id IN ('demo-ana', 'demo-ben', 'demo-eva', 'demo-root')"

echo "demo: starting nimara worker"
bin/nimara worker --queues notifications --metrics-addr 127.0.0.1:0 &
WORKER_PID=$!
trap 'kill -TERM $WORKER_PID 2>/dev/null || true' EXIT

status=0
(cd interop && node demo/demo.mjs --count "$COUNT" --users "$USERS" --port-id "$PORT_ID") ||
  status=$?

echo "demo: notifications rows per user:"
psql -h "$PGHOST" -U "$PGUSER" -d "$DEMO_DB" -qtA -F ' ' \
  -c 'SELECT user_id, count(*) FROM notifications GROUP BY user_id ORDER BY user_id'

echo "demo: stopping the worker with SIGTERM"
kill -TERM "$WORKER_PID"
wait "$WORKER_PID" || status=$?
trap - EXIT
exit "$status"
