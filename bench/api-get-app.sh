#!/usr/bin/env bash
# Throughput and latency of `GET /v3/apps/:guid` for a space developer's token (token check,
# role lookup, app read, presentation), with wrk on the same machine: 2 threads, 32 connections.
# On the embedded defaults (SQLite), or with a database URL on PostgreSQL (a fresh database is
# made on that server for the run and dropped after it).
# Targets: at least 10,000 requests/s, p99 under 10 ms.
#
#   bench/api-get-app.sh [seconds] [postgres://user@host/db]
#                                       (default 15 s on SQLite; needs wrk, curl, jq, and psql
#                                       for PostgreSQL)
set -euo pipefail

seconds=${1:-15}
postgres=${2:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-get-bench.XXXXXX")
server_pid=
bench_db=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [[ -n $bench_db ]]; then psql -q "$postgres" -c "DROP DATABASE IF EXISTS $bench_db" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
database_args=()
if [[ -n $postgres ]]; then
  bench_db=ladle_bench_$$
  psql -q "$postgres" -c "CREATE DATABASE $bench_db"
  # The same server and credentials, the fresh database.
  database_args=(--database-url "${postgres%/*}/$bench_db")
fi

echo "building release binary..." >&2
(cd "$repo" && cargo build --release -q -p ladle)
ladle=$target/release/ladle
data=$work/data
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api=http://127.0.0.1:$port
LADLE_LOG=warn LADLE_STAGING_SLOTS=0 "$ladle" serve --data-dir "$data" --listen "127.0.0.1:$port" "${database_args[@]}" \
  > "$work/serve.log" 2>&1 &
server_pid=$!
until curl -sf -o /dev/null "$api/v3/info"; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.01
done
# Tokens signed with the secret the server made on its first start.
admin=$("$ladle" token --data-dir "$data" --admin)
developer=$("$ladle" token --data-dir "$data" --user-id bench-dev)

call() { # method path json
  curl -sf -X "$1" "$api$2" -H "Authorization: bearer $admin" -d "$3"
}
org=$(call POST /v3/organizations '{"name":"bench"}' | jq -r .guid)
space=$(call POST /v3/spaces "{\"name\":\"bench\",\"relationships\":{\"organization\":{\"data\":{\"guid\":\"$org\"}}}}" | jq -r .guid)
call POST /v3/users '{"guid":"bench-dev"}' > /dev/null
call POST /v3/roles "{\"type\":\"organization_user\",\"relationships\":{\"user\":{\"data\":{\"guid\":\"bench-dev\"}},\"organization\":{\"data\":{\"guid\":\"$org\"}}}}" > /dev/null
call POST /v3/roles "{\"type\":\"space_developer\",\"relationships\":{\"user\":{\"data\":{\"guid\":\"bench-dev\"}},\"space\":{\"data\":{\"guid\":\"$space\"}}}}" > /dev/null
# A few apps so the table is not trivially small.
for i in $(seq 1 50); do
  call POST /v3/apps "{\"name\":\"app-$i\",\"relationships\":{\"space\":{\"data\":{\"guid\":\"$space\"}}}}" > "$work/app.json"
done
app=$(jq -r .guid "$work/app.json")
status=$(curl -s -o /dev/null -w '%{http_code}' "$api/v3/apps/$app" -H "Authorization: bearer $developer")
[[ $status == 200 ]] || { echo "GET as the developer answered $status" >&2; exit 1; }

echo "wrk: ${seconds}s, 2 threads, 32 connections, GET /v3/apps/:guid as a space developer," \
  "on $([[ -n $postgres ]] && echo PostgreSQL || echo SQLite)" >&2
wrk -t2 -c32 -d"${seconds}s" --latency -H "Authorization: bearer $developer" "$api/v3/apps/$app" | tee "$work/wrk.txt"
rss_kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$server_pid/status")
echo "server peak RSS during the run: $((rss_kb / 1024)) MB"
non2xx=$(grep -c "Non-2xx" "$work/wrk.txt" || true)
[[ $non2xx == 0 ]] || { echo "some responses were not 2xx" >&2; exit 1; }
