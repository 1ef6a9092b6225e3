#!/usr/bin/env bash
# Stagings per second with one and with two `ladle worker`s on PostgreSQL.
# For each worker count: a fresh PostgreSQL database, `ladle serve` without staging slots and
# that many workers (LADLE_STAGING_SLOTS=<slots> each) on it and one blobstore dir; a noop admin
# buildpack and a 1 KB app; one warm-up staging, then <queued> stagings queued at once
# (POST /v3/packages/:guid/droplets, 8 at a time), timed until all are STAGED.
# On a 2-core machine two workers share the cores with each other and the API node: the
# scaling says how much of a staging is waiting (database, container start) rather than CPU.
# Needs root and runc (as the workers' container stagings do), psql, jq, zip, curl.
#
#   bench/worker-scaling.sh [queued=100] [slots=1]
#   PROFILE=release bench/worker-scaling.sh        (default debug; CARGO_TARGET_DIR honoured)
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/postgres   (the server to make databases on)
set -euo pipefail

queued=${1:-100}
slots=${2:-1}
profile=${PROFILE:-debug}
pg=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1/postgres}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-scaling-bench.XXXXXX")
pids=()
databases=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  for db in "${databases[@]}"; do psql "$pg" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "building $profile binaries..." >&2
if [[ $profile == release ]]; then
  (cd "$repo" && cargo build --release -q -p ladle)
else
  (cd "$repo" && cargo build -q -p ladle)
fi
ladle=$target/$profile/ladle

mkdir -p "$work/app-template"
head -c 1024 /dev/zero | tr '\0' 'a' > "$work/app-template/index.html"
(cd "$work/app-template" && zip -qr "$work/app.zip" .)
(cd "$repo/fixtures/buildpacks/noop" && zip -qr "$work/noop.zip" .)
now_ns() { date +%s%N; }

run() { # workers; prints a line ending in the stagings per second
  local workers=$1 data=$work/run-$1 db=ladle_scaling_bench_$$_$1
  psql "$pg" -qc "CREATE DATABASE $db"
  databases+=("$db")
  export LADLE_LOG=warn LADLE_STAGER=runc LADLE_SHUTDOWN_GRACE_SECONDS=1
  export DATABASE_URL=${pg%/*}/$db LADLE_BLOBSTORE=$data/blobs
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  api=http://127.0.0.1:$port
  LADLE_STAGING_SLOTS=0 "$ladle" serve --data-dir "$data" --listen "127.0.0.1:$port" > "$work/serve-$workers.log" 2>&1 &
  pids+=($!)
  until curl -sf -o /dev/null "$api/v3/info"; do
    kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/serve-$workers.log" >&2; exit 1; }
    sleep 0.05
  done
  token=$("$ladle" token --data-dir "$data" --admin)
  for n in $(seq 1 "$workers"); do
    LADLE_STAGING_SLOTS=$slots "$ladle" worker --data-dir "$work/worker-$workers-$n" >> "$work/workers.log" 2>&1 &
    pids+=($!)
  done
  call() { curl -sf -X "$1" "$api$2" -H "Authorization: bearer $token" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
  upload() { curl -sf -X POST "$api$1" -H "Authorization: bearer $token" -F "bits=@$2;type=application/zip" >/dev/null; }
  local buildpack org space app
  buildpack=$(call POST /v3/buildpacks '{"name":"noop"}' | jq -r .guid)
  upload "/v3/buildpacks/$buildpack/upload" "$work/noop.zip"
  org=$(call POST /v3/organizations '{"name":"bench"}' | jq -r .guid)
  space=$(call POST /v3/spaces "{\"name\":\"bench\",\"relationships\":{\"organization\":{\"data\":{\"guid\":\"$org\"}}}}" | jq -r .guid)
  app=$(call POST /v3/apps "{\"name\":\"bench\",\"relationships\":{\"space\":{\"data\":{\"guid\":\"$space\"}}}}" | jq -r .guid)
  package=$(call POST /v3/packages "{\"type\":\"bits\",\"relationships\":{\"app\":{\"data\":{\"guid\":\"$app\"}}}}" | jq -r .guid)
  upload "/v3/packages/$package/upload" "$work/app.zip"
  count() { call GET "/v3/packages/$package/droplets?states=$1&per_page=1" | jq -r .pagination.total_results; }

  # Warm-up: one staging, so cold caches and worker start-up are not timed.
  call POST "/v3/packages/$package/droplets" "{\"buildpack_guid\":\"$buildpack\"}" >/dev/null
  local deadline=$(( $(date +%s) + 300 ))
  while (( $(count STAGED) < 1 )); do
    (( $(count FAILED) == 0 )) || { echo "the warm-up staging failed" >&2; exit 1; }
    (( $(date +%s) < deadline )) || { echo "the warm-up staging took over 300 s" >&2; exit 1; }
    sleep 0.1
  done
  export api token package buildpack
  local start=$(now_ns)
  seq 1 "$queued" | xargs -P 8 -I{} curl -sf -o /dev/null -X POST "$api/v3/packages/$package/droplets" \
    -H "Authorization: bearer $token" -d "{\"buildpack_guid\":\"$buildpack\"}"
  deadline=$(( $(date +%s) + 900 ))
  while (( $(count STAGED) < queued + 1 )); do
    (( $(count FAILED) == 0 )) || { echo "a staging failed" >&2; exit 1; }
    (( $(date +%s) < deadline )) || { echo "stagings unfinished after 900 s" >&2; exit 1; }
    sleep 0.1
  done
  local elapsed_ns=$(( $(now_ns) - start ))
  stop_all
  awk -v n="$queued" -v ns="$elapsed_ns" -v w="$workers" -v s="$slots" \
    'BEGIN { printf "%d worker(s), %d slot(s) each: %d stagings in %.1f s = %.2f stagings/s\n", w, s, n, ns / 1e9, n / (ns / 1e9) }'
}

# Not in $(…): a subshell's processes and databases would escape the cleanup on a failure.
run 1 > "$work/one.txt"
run 2 > "$work/two.txt"
one=$(cat "$work/one.txt") two=$(cat "$work/two.txt")
echo "$one"
echo "$two"
awk -v a="${one##*= }" -v b="${two##*= }" 'BEGIN { printf "scaling, two workers over one: %.2fx (%s build, PostgreSQL)\n", b / a, "'"$profile"'" }'
