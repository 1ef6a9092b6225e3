#!/usr/bin/env bash
# Latency of the password grant (`POST /oauth/token`, grant_type=password, client `cf`): one
# argon2id check (19 MiB, 2 passes, 1 lane), the lock-out bookkeeping, and signing two JWTs,
# on the embedded defaults (SQLite), one request at a time from curl on the same machine; then
# a wrong password and an unknown user name, which must cost the same.
# Target: median under 150 ms.
#
#   bench/password-grant.sh [requests]      (default 50; needs curl)
#   LADLE_BENCH_DEBUG=1 bench/password-grant.sh    the debug binary instead of a release build
#                                                  (argon2 is optimised in debug builds too)
set -euo pipefail

requests=${1:-50}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-login-bench.XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ ${LADLE_BENCH_DEBUG:-} != 1 ]]; then
  echo "building release binary..." >&2
  (cd "$repo" && cargo build --release -q -p ladle)
  ladle=$target/release/ladle
else
  ladle=$target/debug/ladle
fi
data=$work/data
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api=http://127.0.0.1:$port
LADLE_LOG=warn LADLE_STAGING_SLOTS=0 "$ladle" serve --data-dir "$data" --listen "127.0.0.1:$port" \
  > "$work/serve.log" 2>&1 &
server_pid=$!
until curl -sf -o /dev/null "$api/v3/info"; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.01
done
echo "bench-password" | "$ladle" users create bench-user --password-stdin --data-dir "$data" > /dev/null

# One series per case: the right password, a wrong one, and an unknown user name (which must
# cost what a wrong password costs). Different names, so the wrong passwords lock nobody out of
# the first series; 4 per name within a minute stay below the lock-out.
grant() { # username password → "status seconds"
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -u 'cf:' \
    -d grant_type=password -d "username=$1" -d "password=$2" -d scope= "$api/oauth/token"
}
for i in $(seq 1 "$requests"); do grant bench-user bench-password; done > "$work/right"
if grep -qv '^200 ' "$work/right"; then
  echo "a password grant failed:" >&2
  grep -v '^200 ' "$work/right" | head -3 >&2
  exit 1
fi
for i in $(seq 1 "$requests"); do
  echo "bench-password" | "$ladle" users create "wrong-$i" --password-stdin --data-dir "$data" > /dev/null
done
for i in $(seq 1 "$requests"); do grant "wrong-$i" not-the-password; done > "$work/wrong"
for i in $(seq 1 "$requests"); do grant "nobody-$i" not-the-password; done > "$work/unknown"
summary() { # file label
  awk '{print $2 * 1000}' "$1" | sort -n | awk -v label="$2" '
    { t[NR] = $1 }
    END {
      median = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
      printf "%-26s %d requests, median %.1f ms, min %.1f ms, max %.1f ms\n", label, NR, median, t[1], t[NR]
    }'
}
summary "$work/right" "password grant (200):"
summary "$work/wrong" "wrong password (401):"
summary "$work/unknown" "unknown user (401):"
echo "target: password grant median < 150 ms; wrong password and unknown user alike"
