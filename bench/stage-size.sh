#!/usr/bin/env bash
# A 30 MB app (half incompressible, half text) staged through `ladle serve` with a noop admin
# buildpack, POST /v3/packages/:guid/droplets to STAGED, against the floor a person could reach
# by hand with the same zip in the same run: `unzip -q` into a fresh folder, the buildpack's
# `bin/compile`, `tar czf` of the result. Target: the staging median at most 1.0x the floor's.
#
# Needs root and runc (the server stages in runc containers, as `ladle serve` does by default),
# plus zip, unzip, curl, jq and python3 (scripts/install-packages.sh installs them).
#
#   bench/stage-size.sh [runs=7]      (CARGO_TARGET_DIR honoured)
#   LADLE_BENCH_BIN_DIR=dir bench/stage-size.sh   (ladle and ladle-builder from dir, not built:
#                                                  to measure another build the same way)
#
# Floor and staging runs alternate, so a machine that gets busier half-way slows both alike.
# The staging is followed through its server-sent log (one idle curl) instead of polling, so
# the client takes no CPU from the staging it times; the droplet's state is read once at the end.
set -euo pipefail

runs=${1:-7}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-size-bench.XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

[[ $(id -u) == 0 ]] || { echo "stage-size.sh needs root (runc stagings)" >&2; exit 1; }
command -v runc >/dev/null || { echo "stage-size.sh needs runc on PATH" >&2; exit 1; }

if [[ -n ${LADLE_BENCH_BIN_DIR:-} ]]; then
  ladle=$LADLE_BENCH_BIN_DIR/ladle
else
  echo "building release binaries..." >&2
  (cd "$repo" && cargo build --release -q -p ladle -p ladle-builder)
  ladle=$target/release/ladle
fi

# The app of bench/builder-package.sh: ~15 MB of source-like text in 300 files, ~15 MB of
# random bytes in 150, a dotfile and a symlink (zipped as a link, -y, as the CLIs do).
make_app() {
  local app=$1 i
  mkdir -p "$app/src/lib" "$app/assets"
  for i in $(seq 1 300); do
    awk -v seed="$i" 'BEGIN { srand(seed); for (l = 0; l < 850; l++)
      printf "def method_%d(arg_%d):\n    return compute(%d, \"%x\")\n", l, int(rand()*1000), l*seed, int(rand()*1e9) }' \
      > "$app/src/lib/module_$i.py"
  done
  for i in $(seq 1 150); do
    head -c 102400 /dev/urandom > "$app/assets/blob_$i.bin"
  done
  echo "secret=dev" > "$app/.env"
  ln -s src/lib "$app/lib"
}
make_app "$work/app-template"
(cd "$work/app-template" && zip -qry "$work/app.zip" .)
(cd "$repo/fixtures/buildpacks/noop" && zip -qr "$work/noop.zip" .)
size=$(du -sb "$work/app-template" | cut -f1)
echo "app: $((size / 1024 / 1024)) MB in $(find "$work/app-template" -type f | wc -l) files, zip $(( $(stat -c %s "$work/app.zip") / 1024 / 1024 )) MB" >&2

# The by-hand floor: the same zip, the same buildpack, as root in a plain folder.
floor_bp=$work/floor-buildpack
unzip -q "$work/noop.zip" -d "$floor_bp"
run_floor() {
  rm -rf "$work/floor"
  mkdir -p "$work/floor/app" "$work/floor/cache"
  unzip -q "$work/app.zip" -d "$work/floor/app"
  "$floor_bp/bin/compile" "$work/floor/app" "$work/floor/cache"
  tar czf "$work/floor/droplet.tgz" -C "$work/floor/app" .
}

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api=http://127.0.0.1:$port
data=$work/data
LADLE_LOG=${LADLE_LOG:-warn} "$ladle" serve --data-dir "$data" --listen "127.0.0.1:$port" \
  > "$work/serve.log" 2>&1 &
server_pid=$!
until curl -sf -o /dev/null "$api/v3/info"; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.01
done
token=$("$ladle" token --data-dir "$data" --admin)

call() { # method path [json]
  curl -sf -X "$1" "$api$2" -H "Authorization: bearer $token" -H 'Content-Type: application/json' \
    ${3:+-d "$3"}
}
upload() { # path zip
  curl -sf -X POST "$api$1" -H "Authorization: bearer $token" -F "bits=@$2;type=application/zip" >/dev/null
}
buildpack=$(call POST /v3/buildpacks '{"name":"noop"}' | jq -r .guid)
upload "/v3/buildpacks/$buildpack/upload" "$work/noop.zip"
org=$(call POST /v3/organizations '{"name":"bench"}' | jq -r .guid)
space=$(call POST /v3/spaces "{\"name\":\"bench\",\"relationships\":{\"organization\":{\"data\":{\"guid\":\"$org\"}}}}" | jq -r .guid)
app=$(call POST /v3/apps "{\"name\":\"bench\",\"relationships\":{\"space\":{\"data\":{\"guid\":\"$space\"}}}}" | jq -r .guid)
package=$(call POST /v3/packages "{\"type\":\"bits\",\"relationships\":{\"app\":{\"data\":{\"guid\":\"$app\"}}}}" | jq -r .guid)
upload "/v3/packages/$package/upload" "$work/app.zip"

# One staging, POST to STAGED: follows the droplet's log until its end event, then checks the
# state it ended in. Prints the droplet guid.
stage() {
  local droplet state
  droplet=$(call POST "/v3/packages/$package/droplets" "{\"buildpack_guid\":\"$buildpack\"}" | jq -r .guid)
  curl -sfN -H "Authorization: bearer $token" -H 'Accept: text/event-stream' \
    "$api/v3/droplets/$droplet/logs" > "$work/last-log"
  state=$(call GET "/v3/droplets/$droplet" | jq -r .state)
  if [[ $state != STAGED ]]; then
    echo "droplet $droplet ended $state" >&2; cat "$work/last-log" >&2; exit 1
  fi
  echo "$droplet"
}

now_ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# Warm-up of both: page cache, runc, the database.
run_floor
droplet=$(stage)

floor_times=() stage_times=()
for run in $(seq 1 "$runs"); do
  start=$(now_ns); run_floor; floor_times+=($(( ($(now_ns) - start) / 1000000 )))
  start=$(now_ns); droplet=$(stage); stage_times+=($(( ($(now_ns) - start) / 1000000 )))
  echo "run $run: floor ${floor_times[-1]} ms, staging ${stage_times[-1]} ms" >&2
done

# The last droplet as a client downloads it, against the floor's tgz.
curl -sfL -H "Authorization: bearer $token" "$api/v3/droplets/$droplet/download" -o "$work/droplet.tgz"
droplet_kb=$(( $(stat -c %s "$work/droplet.tgz") / 1024 ))
floor_kb=$(( $(stat -c %s "$work/floor/droplet.tgz") / 1024 ))
floor_median=$(printf '%s\n' "${floor_times[@]}" | median)
stage_median=$(printf '%s\n' "${stage_times[@]}" | median)
echo "floor (unzip + bin/compile + tar czf), median of $runs: ${floor_median} ms (tgz ${floor_kb} KB)"
echo "POST to STAGED, median of $runs:                   ${stage_median} ms (droplet ${droplet_kb} KB)"
awk -v s="$stage_median" -v f="$floor_median" 'BEGIN { printf "ratio staging/floor: %.2fx   (target: <= 1.00x)\n", s / f }'
# Where the server's time went, mean per staging over all of them (warm-up included).
curl -sf "$api/metrics" | awk '
  /^ladle_staging_phase_duration_seconds_sum/ { match($0, /phase="[^"]*"/); p = substr($0, RSTART + 7, RLENGTH - 8); sum[p] = $NF }
  /^ladle_staging_phase_duration_seconds_count/ { match($0, /phase="[^"]*"/); p = substr($0, RSTART + 7, RLENGTH - 8); n[p] = $NF }
  END { for (p in sum) if (n[p] > 0) printf "  phase %-16s %6.0f ms mean\n", p, 1000 * sum[p] / n[p] }'
