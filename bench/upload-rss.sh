#!/usr/bin/env bash
# Memory of `ladle serve` while a large package is uploaded, and its start-up time.
# Starts the release binary on a fresh data dir, creates an org, space, app and bits package,
# uploads a ~200 MB zip of random data (so it does not compress) and samples the server's
# /proc/<pid>/status before and after.
# Targets: peak RSS (VmHWM) < 100 MB, idle RSS < 30 MB, start to first served request < 1 s.
#
#   bench/upload-rss.sh [size_mb]      (default 200; CARGO_TARGET_DIR honoured)
set -euo pipefail

size_mb=${1:-200}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-upload-bench.XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "building release binary..." >&2
(cd "$repo" && cargo build --release -q -p ladle)
ladle=$target/release/ladle
data=$work/data

# Made before the server starts so that writing it does not disturb the measurements.
echo "making a ${size_mb} MB zip of random data..." >&2
mkdir -p "$work/app"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$work/app/random.bin"
echo 'hello' > "$work/app/index.html"
(cd "$work/app" && zip -q -0 "$work/app.zip" random.bin index.html)
rm -f "$work/app/random.bin"

kb() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$server_pid/status"; }
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f MB", kb / 1024 }'; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api=http://127.0.0.1:$port
start_ns=$(date +%s%N)
LADLE_LOG=warn LADLE_STAGING_SLOTS=0 "$ladle" serve --data-dir "$data" --listen "127.0.0.1:$port" \
  > "$work/serve.log" 2>&1 &
server_pid=$!
until curl -sf -o /dev/null "$api/v3/info"; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.005
done
ready_ns=$(date +%s%N)
token=$("$ladle" token --data-dir "$data" --admin)   # the secret the server made on start

call() { # method path [json]
  curl -sf -X "$1" "$api$2" -H "Authorization: bearer $token" -H 'Content-Type: application/json' \
    ${3:+-d "$3"}
}
org=$(call POST /v3/organizations '{"name":"bench"}' | jq -r .guid)
space=$(call POST /v3/spaces "{\"name\":\"bench\",\"relationships\":{\"organization\":{\"data\":{\"guid\":\"$org\"}}}}" | jq -r .guid)
app=$(call POST /v3/apps "{\"name\":\"bench\",\"relationships\":{\"space\":{\"data\":{\"guid\":\"$space\"}}}}" | jq -r .guid)
package=$(call POST /v3/packages "{\"type\":\"bits\",\"relationships\":{\"app\":{\"data\":{\"guid\":\"$app\"}}}}" | jq -r .guid)

idle_rss=$(kb VmRSS)
upload_start=$(date +%s%N)
state=$(curl -sf -X POST "$api/v3/packages/$package/upload" -H "Authorization: bearer $token" \
  -F "bits=@$work/app.zip;type=application/zip" | jq -r .state)
upload_end=$(date +%s%N)
peak_rss=$(kb VmHWM)
after_rss=$(kb VmRSS)
[[ $state == READY ]] || { echo "upload ended in state $state" >&2; exit 1; }

zip_mb=$(( $(stat -c %s "$work/app.zip") / 1024 / 1024 ))
echo "zip uploaded:            ${zip_mb} MB in $(( (upload_end - upload_start) / 1000000 )) ms (package READY)"
echo "start to first request:  $(( (ready_ns - start_ns) / 1000000 )) ms   (target < 1000 ms)"
echo "idle RSS:                $(mb "$idle_rss")   (target < 30 MB)"
echo "peak RSS (VmHWM):        $(mb "$peak_rss")   (target < 100 MB)"
echo "RSS after upload:        $(mb "$after_rss")"
