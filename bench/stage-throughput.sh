#!/usr/bin/env bash
# Staging latency and throughput of `ladle serve`, against ladle-builder run bare, in one run.
# Starts the release server (embedded defaults: SQLite, local blobstore, runc stager with its
# default staging network and seccomp profile) on a fresh data dir with a noop admin buildpack
# and an app whose package is a 1 KB zip, then:
#   (a) N stagings one at a time, POST /v3/packages/:guid/droplets to STAGED (the client
#       follows the droplet's log and stops at its end event): median and p90
#                                                          (target: median <= 60 ms)
#   (b) M stagings queued at once on 2 slots, timed until all are STAGED: stagings/second
#                                                          (target: >= 45 stagings/s)
#       meanwhile GET /v3/apps/:guid every 10 ms: p99      (target: < 20 ms)
#       and the server's peak RSS                          (target: < 100 MB)
#   (c) the same M stagings with target/release/ladle-builder directly (same buildpack, same
#       1 KB app, a fresh build dir each, no container), two at a time: stagings/second
# Each staging runs in its own fresh container on its own size-limited filesystem.
# Needs root and runc (as the server's stager does), python3, curl, jq, zip.
#
#   bench/stage-throughput.sh [sequential=20] [queued=100]     (CARGO_TARGET_DIR honoured)
#   LADLE_BENCH_BIN_DIR=dir bench/stage-throughput.sh          (ladle and ladle-builder from dir)
set -euo pipefail

sequential=${1:-20}
queued=${2:-100}
slots=2
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-stage-bench.XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -n ${LADLE_BENCH_BIN_DIR:-} ]]; then
  # An already-built pair, e.g. an older commit's, to compare with in the same session.
  ladle=$LADLE_BENCH_BIN_DIR/ladle
  builder=$LADLE_BENCH_BIN_DIR/ladle-builder
else
  echo "building release binaries..." >&2
  (cd "$repo" && cargo build --release -q -p ladle -p ladle-builder)
  ladle=$target/release/ladle
  builder=$target/release/ladle-builder
fi
data=$work/data

# The 1 KB app and the noop buildpack, zipped for upload.
mkdir -p "$work/app-template"
head -c 1024 /dev/zero | tr '\0' 'a' > "$work/app-template/index.html"
(cd "$work/app-template" && zip -qr "$work/app.zip" .)
(cd "$repo/fixtures/buildpacks/noop" && zip -qr "$work/noop.zip" .)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api=http://127.0.0.1:$port
LADLE_LOG=warn LADLE_STAGING_SLOTS=$slots "$ladle" serve --data-dir "$data" --listen "127.0.0.1:$port" \
  > "$work/serve.log" 2>&1 &
server_pid=$!
until curl -sf -o /dev/null "$api/v3/info"; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.01
done
token=$("$ladle" token --data-dir "$data" --admin)   # the secret the server made on start

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

stage() { call POST "/v3/packages/$package/droplets" "{\"buildpack_guid\":\"$buildpack\"}" | jq -r .guid; }

# Polls a droplet until it is final; fails the run unless it ends STAGED.
wait_staged() {
  local state
  while :; do
    state=$(call GET "/v3/droplets/$1" | jq -r .state)
    case $state in
      STAGED) return 0 ;;
      PENDING|STAGING) ;;
      *) echo "droplet $1 ended $state" >&2; call GET "/v3/droplets/$1" >&2; exit 1 ;;
    esac
  done
}

now_ns() { date +%s%N; }
percentile() { # p: nearest-rank percentile of the numbers on stdin
  sort -n | awk -v p="$1" '{ v[NR] = $1 } END { r = int((p * NR + 99) / 100); if (r < 1) r = 1; print v[r] }'
}

# Warm-up: the first staging pays for cold caches (page cache, runc, the database).
wait_staged "$(stage)"

client=$repo/bench/stage_client.py
echo "(a) $sequential sequential stagings..." >&2
mapfile -t latencies < <(python3 "$client" latency "$api" "$token" "$package" "$buildpack" "$sequential")
(( ${#latencies[@]} == sequential )) || { echo "the latency client failed" >&2; exit 1; }
median=$(printf '%s\n' "${latencies[@]}" | percentile 50)
p90=$(printf '%s\n' "${latencies[@]}" | percentile 90)

echo "(b) $queued stagings queued at once on $slots slots..." >&2
drain=$(python3 "$client" drain "$api" "$token" "$package" "$buildpack" "$app" "$queued" "$server_pid")
hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status")

echo "(c) $queued stagings with ladle-builder directly, $slots at a time..." >&2
# Admin buildpack at its legacy (md5) folder name, as bench/builder-package.sh installs it.
bp_dir=$work/buildpacks/$(printf %s noop | md5sum | cut -c1-32)
mkdir -p "$(dirname "$bp_dir")"
cp -a "$repo/fixtures/buildpacks/noop" "$bp_dir"
export builder work
run_builder() { # run number: a fresh build dir each
  local dir=$work/runs/$1
  mkdir -p "$dir/cache" "$dir/out"
  cp -a "$work/app-template" "$dir/app"
  "$builder" -buildDir="$dir/app" -buildpacksDir="$work/buildpacks" \
    -buildpacksDownloadDir="$dir/downloads" -buildArtifactsCacheDir="$dir/cache" \
    -outputDroplet="$dir/out/droplet.tgz" -outputMetadata="$dir/out/result.json" \
    -outputBuildArtifactsCache="$dir/out/cache.tgz" -buildpackOrder=noop -skipDetect \
    >/dev/null 2>"$dir/stderr" || { cat "$dir/stderr" >&2; return 1; }
  rm -rf "$dir"
}
export -f run_builder
start=$(now_ns)
seq 1 "$queued" | xargs -P "$slots" -I{} bash -c 'run_builder {}'
builder_ns=$(( $(now_ns) - start ))

rate() { awk -v n="$1" -v ns="$2" 'BEGIN { printf "%.1f", n / (ns / 1e9) }'; }
builder_rate=$(rate "$queued" "$builder_ns")
server_rate=$(jq -r .rate <<<"$drain")
echo "(a) POST to STAGED, $sequential one at a time: median ${median} ms, p90 ${p90} ms   (target: median <= 60 ms)"
echo "(b) server, $queued queued on $slots slots: $(jq -r .drain_s <<<"$drain") s = ${server_rate} stagings/s   (target: >= 45)"
echo "    GET /v3/apps/:guid meanwhile, $(jq -r .probe_requests <<<"$drain") requests: p50 $(jq -r .probe_p50_ms <<<"$drain") ms, p99 $(jq -r .probe_p99_ms <<<"$drain") ms, max $(jq -r .probe_max_ms <<<"$drain") ms   (target: p99 < 20 ms)"
echo "    server RSS: peak sampled $(jq -r .peak_rss_mb <<<"$drain") MB, VmHWM since start $(( hwm_kb / 1024 )) MB   (target: < 100 MB)"
echo "(c) ladle-builder alone, no container, $slots at a time: $(( builder_ns / 1000000 )) ms = ${builder_rate} stagings/s"
awk -v s="$server_rate" -v b="$builder_rate" 'BEGIN { printf "ratio server/builder: %.2f\n", s / b }'
