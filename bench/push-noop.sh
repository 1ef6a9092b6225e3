#!/usr/bin/env bash
# `ladle push` of a 1 KB app with the noop admin buildpack, end to end (zip, app lookup,
# package upload, build, staging in runc, log follow, current droplet, summary), against a
# local `ladle serve` on SQLite. Prints the median and each run's wall time.
# Target: median under 1 s. Needs root and runc (the server stages with runc).
#
#   bench/push-noop.sh [runs]     (default 11; needs curl, jq, python3)
#   LADLE_BENCH_PROFILE=debug bench/push-noop.sh   uses target/debug instead of a release build
set -euo pipefail

runs=${1:-11}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
profile=${LADLE_BENCH_PROFILE:-release}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-push-bench.XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ $profile == release ]]; then
  echo "building release binaries..." >&2
  (cd "$repo" && cargo build --release -q --workspace --bins)
fi
ladle=$target/$profile/ladle
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api=http://127.0.0.1:$port
export LADLE_TOKEN_SECRET=push-bench-secret
LADLE_LOG=warn "$ladle" serve --data-dir "$work/data" --listen "127.0.0.1:$port" \
  > "$work/serve.log" 2>&1 &
server_pid=$!
until curl -sf -o /dev/null "$api/v3/info"; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
token=$("$ladle" token --admin)
call() { curl -sf -H "Authorization: bearer $token" -H 'Content-Type: application/json' "$@"; }

# The noop buildpack, as an admin buildpack.
(cd "$repo/fixtures/buildpacks/noop" && python3 -c '
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name in sorted(os.listdir("bin")):
        info = zipfile.ZipInfo("bin/" + name); info.external_attr = 0o755 << 16
        z.writestr(info, open("bin/" + name, "rb").read())
' "$work/noop.zip")
bp=$(call -X POST "$api/v3/buildpacks" -d '{"name":"noop"}' | jq -r .guid)
curl -sf -H "Authorization: bearer $token" -X POST "$api/v3/buildpacks/$bp/upload" \
  -F "bits=@$work/noop.zip" > /dev/null

org=$(call -X POST "$api/v3/organizations" -d '{"name":"bench"}' | jq -r .guid)
space=$(call -X POST "$api/v3/spaces" \
  -d "{\"name\":\"dev\",\"relationships\":{\"organization\":{\"data\":{\"guid\":\"$org\"}}}}" | jq -r .guid)
export HOME=$work/home
mkdir -p "$HOME/.ladle"
jq -n --arg api "$api" --arg token "$token" --arg org "$org" --arg space "$space" \
  '{api: $api, access_token: $token, organization: {guid: $org, name: "bench"}, space: {guid: $space, name: "dev"}}' \
  > "$HOME/.ladle/config.json"

# A 1 KB app.
mkdir -p "$work/app"
head -c 1024 /dev/zero | tr '\0' 'a' > "$work/app/index.txt"

times=()
for i in $(seq "$runs"); do
  start=$(date +%s.%N)
  "$ladle" push "$work/app" --name "app-$i" -b noop > "$work/push.log" 2>&1 || { cat "$work/push.log" >&2; exit 1; }
  end=$(date +%s.%N)
  times+=("$(python3 -c "print(f'{$end - $start:.3f}')")")
done
printf '%s\n' "${times[@]}" | sort -n | python3 -c '
import sys
values = [float(line) for line in sys.stdin]
print("runs (s):", " ".join(f"{v:.3f}" for v in values))
print(f"median: {values[len(values) // 2]:.3f} s over {len(values)} pushes (target: under 1 s)")
'
