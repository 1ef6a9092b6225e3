#!/usr/bin/env bash
# What reading staging logs costs on the embedded defaults (SQLite), with wrk on the same
# machine (2 threads, 16 connections):
#   1. log-cache reads of an app with 100,000 stored lines (20 droplets x 5,000): the newest
#      1000 (`descending=true&limit=1000`) and a client's poll for what is new
#      (`start_time=<newest>`, which finds nothing);
#   2. the server's CPU while 200 clients follow, as server-sent events, stagings that print
#      nothing (each follower looks at the database once a second).
#
#   bench/log-read.sh [seconds]      (default 10; needs wrk, curl, jq, sqlite3)
set -euo pipefail

seconds=${1:-10}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-log-bench.XXXXXX")
server_pid=
followers=()
cleanup() {
  for pid in "${followers[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "building release binary..." >&2
(cd "$repo" && cargo build --release -q -p ladle)
ladle=$target/release/ladle
data=$work/data
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api=http://127.0.0.1:$port
# No staging slots: the followed droplets stay PENDING and print nothing.
LADLE_LOG=warn LADLE_STAGING_SLOTS=0 "$ladle" serve --data-dir "$data" --listen "127.0.0.1:$port" \
  > "$work/serve.log" 2>&1 &
server_pid=$!
until curl -sf -o /dev/null "$api/v3/info"; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.01
done
admin=$("$ladle" token --data-dir "$data" --admin)
call() { # method path json
  curl -sf -X "$1" "$api$2" -H "Authorization: bearer $admin" -d "$3"
}
org=$(call POST /v3/organizations '{"name":"bench"}' | jq -r .guid)
space=$(call POST /v3/spaces "{\"name\":\"bench\",\"relationships\":{\"organization\":{\"data\":{\"guid\":\"$org\"}}}}" | jq -r .guid)
app=$(call POST /v3/apps "{\"name\":\"logs\",\"relationships\":{\"space\":{\"data\":{\"guid\":\"$space\"}}}}" | jq -r .guid)
other=$(call POST /v3/apps "{\"name\":\"other\",\"relationships\":{\"space\":{\"data\":{\"guid\":\"$space\"}}}}" | jq -r .guid)

echo "seeding 100,000 log lines for the app (and as many for another app)..." >&2
sqlite3 "$data/ladle.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 39)
INSERT INTO droplets (guid, app_guid, state, memory_limit_mb, disk_limit_mb, created_at)
SELECT 'bench-droplet-' || i, CASE WHEN i < 20 THEN '$app' ELSE '$other' END, 'STAGED', 1024, 4096,
       '2026-01-01T00:00:00.000000Z' FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199999)
INSERT INTO staging_logs (droplet_guid, seq, phase, stream, line, created_at)
SELECT 'bench-droplet-' || (i / 5000), i % 5000, 'compile', 'stdout',
       '-----> a line of a buildpack''s output, about sixty bytes long ' || i,
       '2026-01-01T00:00:00.' || printf('%06d', i) || 'Z'
FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199)
INSERT INTO droplets (guid, app_guid, state, memory_limit_mb, disk_limit_mb, created_at)
SELECT 'bench-pending-' || i, '$app', 'PENDING', 1024, 4096, '2026-01-01T00:00:00.000000Z' FROM n;
SQL
newest=$(curl -sf "$api/api/v1/read/$app?descending=true&limit=1" -H "Authorization: bearer $admin" \
  | jq -r '.envelopes.batch[0].timestamp')
count=$(curl -sf "$api/api/v1/read/$app?limit=1000" -H "Authorization: bearer $admin" | jq '.envelopes.batch | length')
[[ $count == 1000 ]] || { echo "read gave $count envelopes" >&2; exit 1; }

for query in "descending=true&limit=1000" "start_time=$((newest + 1))"; do
  echo "wrk: ${seconds}s, 2 threads, 16 connections, GET /api/v1/read/:app?$query" >&2
  wrk -t2 -c16 -d"${seconds}s" --latency -H "Authorization: bearer $admin" \
    "$api/api/v1/read/$app?$query" | tee "$work/wrk.txt"
  ! grep -q "Non-2xx" "$work/wrk.txt" || { echo "some responses were not 2xx" >&2; exit 1; }
done

echo "200 clients following silent stagings for ${seconds}s..." >&2
for i in $(seq 0 199); do
  curl -sN -o /dev/null -H "Accept: text/event-stream" -H "Authorization: bearer $admin" \
    "$api/v3/droplets/bench-pending-$i/logs" &
  followers+=($!)
done
sleep 2
ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
before=$(ticks)
sleep "$seconds"
after=$(ticks)
hz=$(getconf CLK_TCK)
echo "server CPU with 200 idle followers: $(( (after - before) * 1000 / hz / seconds )) ms per second"
rss_kb=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$server_pid/status")
echo "server RSS with 200 followers: $((rss_kb / 1024)) MB"
