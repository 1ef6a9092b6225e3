#!/usr/bin/env bash
# Time from SIGKILL of a worker mid-staging to that staging running again on another worker.
# Starts `ladle serve` without staging slots and two `ladle worker`s (one slot each) on one
# SQLite database and blobstore, all with LADLE_JOB_LEASE_SECONDS=<lease>. Each round stages an
# app with the `pause-pass` buildpack (an eight-second compile); once a worker has started it
# (its log says "pausing"), that worker is killed with SIGKILL and a fresh one started on its
# data dir; the time until the staging's log says "pausing" a second time (the other worker has
# claimed it after the lease and restarted it) is the takeover time. Expected: about the lease,
# plus at most the idle worker's poll (1 s) and the staging's start.
# Needs root and runc (as the workers' container stagings do).
#
#   bench/lease-takeover.sh [rounds=5] [lease_seconds=5]
#   PROFILE=debug bench/lease-takeover.sh   (default release; CARGO_TARGET_DIR honoured)
#   BENCH_DATABASE_URL=postgres://... bench/lease-takeover.sh   (an empty database; default SQLite)
set -euo pipefail

rounds=${1:-5}
lease=${2:-5}
profile=${PROFILE:-release}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-lease-bench.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "building $profile binaries..." >&2
if [[ $profile == release ]]; then
  (cd "$repo" && cargo build --release -q -p ladle -p ladle-builder)
else
  (cd "$repo" && cargo build -q -p ladle -p ladle-builder)
fi
ladle=$target/$profile/ladle
data=$work/data
export LADLE_LOG=warn LADLE_STAGER=runc LADLE_JOB_LEASE_SECONDS=$lease LADLE_SHUTDOWN_GRACE_SECONDS=1
export DATABASE_URL=${BENCH_DATABASE_URL:-"sqlite://$data/ladle.db?mode=rwc"} LADLE_BLOBSTORE=$data/blobs

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api=http://127.0.0.1:$port
LADLE_STAGING_SLOTS=0 "$ladle" serve --data-dir "$data" --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
pids+=($!)
until curl -sf -o /dev/null "$api/v3/info"; do
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.01
done
token=$("$ladle" token --data-dir "$data" --admin)

worker() { # data dir; prints the pid
  LADLE_STAGING_SLOTS=1 "$ladle" worker --data-dir "$1" >> "$work/workers.log" 2>&1 &
  echo $!
}
call() { # method path [json]
  curl -sf -X "$1" "$api$2" -H "Authorization: bearer $token" -H 'Content-Type: application/json' \
    ${3:+-d "$3"}
}
upload() { # path zip
  curl -sf -X POST "$api$1" -H "Authorization: bearer $token" -F "bits=@$2;type=application/zip" >/dev/null
}
mkdir -p "$work/app"
echo hello > "$work/app/index.html"
(cd "$work/app" && zip -qr "$work/app.zip" .)
(cd "$repo/fixtures/buildpacks/pause-pass" && zip -qr "$work/pause.zip" .)
buildpack=$(call POST /v3/buildpacks '{"name":"pause"}' | jq -r .guid)
upload "/v3/buildpacks/$buildpack/upload" "$work/pause.zip"
org=$(call POST /v3/organizations '{"name":"bench"}' | jq -r .guid)
space=$(call POST /v3/spaces "{\"name\":\"bench\",\"relationships\":{\"organization\":{\"data\":{\"guid\":\"$org\"}}}}" | jq -r .guid)
app=$(call POST /v3/apps "{\"name\":\"bench\",\"relationships\":{\"space\":{\"data\":{\"guid\":\"$space\"}}}}" | jq -r .guid)
package=$(call POST /v3/packages "{\"type\":\"bits\",\"relationships\":{\"app\":{\"data\":{\"guid\":\"$app\"}}}}" | jq -r .guid)
upload "/v3/packages/$package/upload" "$work/app.zip"

pausing() { # droplet guid: how many attempts have started pausing
  call GET "/v3/droplets/$1/logs" | grep -c "pause-pass pausing" || true
}
now_ns() { date +%s%N; }

dirs=("$work/worker-a" "$work/worker-b")
first=$(worker "${dirs[0]}")
pids+=("$first")
times=()
for round in $(seq 1 "$rounds"); do
  droplet=$(call POST "/v3/packages/$package/droplets" "{\"buildpack_guid\":\"$buildpack\"}" | jq -r .guid)
  until (( $(pausing "$droplet") >= 1 )); do sleep 0.05; done
  # The idle worker is up (and polling) before the kill, so its start-up is not counted.
  second=$(worker "${dirs[1]}")
  pids+=("$second")
  sleep 2
  killed_at=$(now_ns)
  kill -KILL "$first"
  until (( $(pausing "$droplet") >= 2 )); do sleep 0.05; done
  ms=$(( ($(now_ns) - killed_at) / 1000000 ))
  times+=("$ms")
  echo "round $round: running again $ms ms after SIGKILL (lease ${lease} s)" >&2
  until [[ $(call GET "/v3/droplets/$droplet" | jq -r .state) == STAGED ]]; do sleep 0.1; done
  # The survivor becomes the next round's victim; the dead worker's dir is reused (and its
  # leftovers reaped) by the next idle worker.
  first=$second
  dirs=("${dirs[1]}" "${dirs[0]}")
done
# The last victim's container and mounts: a worker started on its data dir reaps them.
reaper=$(worker "${dirs[1]}")
sleep 3
kill -TERM "$reaper"
wait "$reaper" 2>/dev/null || true
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "${DATABASE_URL%%:*}, lease ${lease} s, ${rounds} rounds: SIGKILL to running again elsewhere: median ${median} ms, min $(echo "$sorted" | head -1) ms, max $(echo "$sorted" | tail -1) ms"
