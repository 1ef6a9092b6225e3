#!/usr/bin/env bash
# Throughput and latency of `GET /v3/apps/:guid` for a space developer's token (token check,
# role lookup, app read, presentation), with wrk on the same machine: 2 threads, 32 connections.
# On the embedded defaults (SQLite), or with a database URL on PostgreSQL (a fresh database is
# made on that server for the run and dropped after it).
#
# In the same run, nginx serves the exact body the API answered for that app as a static file
# (`default_type application/json`), and wrk measures it with the same settings, so the ratio
# of the two is comparable between machines and between runs on a busy machine. The nginx
# config is a plain production one: `worker_processes auto` (one worker per core, as Debian's
# default config has it), `sendfile`, `tcp_nopush`, keep-alive on with nginx's defaults,
# access log off (ladle's bench server logs at `warn`, so neither writes a line per request).
# Targets: at least 0.35 of nginx's requests/s on SQLite, p99 under 10 ms.
#
# Needs wrk, curl, jq and nginx (`apt-get install wrk curl jq nginx-light`), and psql for
# PostgreSQL. It installs nothing.
#
#   bench/api-get-app.sh [seconds] [postgres://user@host/db]      (default 15 s on SQLite)
set -euo pipefail

seconds=${1:-15}
postgres=${2:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-get-bench.XXXXXX")
server_pid=
nginx_pid=
bench_db=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [[ -n $nginx_pid ]]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
  if [[ -n $bench_db ]]; then psql -q "$postgres" -c "DROP DATABASE IF EXISTS $bench_db" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
for tool in wrk curl jq; do
  command -v "$tool" > /dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 1; }
done
nginx=$(command -v nginx || true)
[[ -z $nginx && -x /usr/sbin/nginx ]] && nginx=/usr/sbin/nginx
[[ -n $nginx ]] || { echo "nginx is missing: apt-get install nginx-light" >&2; exit 1; }
database_args=()
if [[ -n $postgres ]]; then
  bench_db=ladle_bench_$$
  psql -q "$postgres" -c "CREATE DATABASE $bench_db"
  # The same server and credentials, the fresh database.
  database_args=(--database-url "${postgres%/*}/$bench_db")
fi

if [[ -n ${LADLE_BENCH_BIN_DIR:-} ]]; then
  ladle=$LADLE_BENCH_BIN_DIR/ladle   # an already-built binary, e.g. an older commit's
else
  echo "building release binary..." >&2
  (cd "$repo" && cargo build --release -q -p ladle)
  ladle=$target/release/ladle
fi
data=$work/data
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
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

# The body the developer gets, byte for byte, as nginx's static file at the same path.
mkdir -p "$work/www/v3/apps" "$work/nginx"
curl -sf -o "$work/www/v3/apps/$app" "$api/v3/apps/$app" -H "Authorization: bearer $developer"
# nginx's workers run as an unprivileged user: they may pass through the work dir (the server's
# data dir stays 0700) and read the file.
chmod 711 "$work"
chmod -R a+rX "$work/www"
nginx_port=$(free_port)
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  default_type application/json;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
  }
}
NGINX
"$nginx" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
until curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/v3/apps/$app"; do
  kill -0 "$nginx_pid" 2>/dev/null || { cat "$work/nginx/error.log" >&2; exit 1; }
  sleep 0.01
done
cmp -s <(curl -sf "http://127.0.0.1:$nginx_port/v3/apps/$app") "$work/www/v3/apps/$app" \
  || { echo "nginx does not serve the API's body" >&2; exit 1; }

run_wrk() { # name url [header]
  echo "== $1: wrk ${seconds}s, 2 threads, 32 connections" >&2
  wrk -t2 -c32 -d"${seconds}s" --latency ${3:+-H "$3"} "$2" | tee "$work/$1.txt"
  ! grep -q "Non-2xx" "$work/$1.txt" || { echo "$1: some responses were not 2xx" >&2; exit 1; }
}
requests_per_second() { awk '$1 == "Requests/sec:" { print $2 }' "$work/$1.txt"; }
p99() { awk '$1 == "99%" { print $2 }' "$work/$1.txt"; }

echo "GET /v3/apps/:guid as a space developer, on $([[ -n $postgres ]] && echo PostgreSQL || echo SQLite)," \
  "$(stat -c %s "$work/www/v3/apps/$app")-byte body" >&2
run_wrk ladle "$api/v3/apps/$app" "Authorization: bearer $developer"
rss_kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$server_pid/status")
run_wrk nginx "http://127.0.0.1:$nginx_port/v3/apps/$app"

ladle_rps=$(requests_per_second ladle)
nginx_rps=$(requests_per_second nginx)
echo
printf '%-8s %12s %10s\n' "" "requests/s" "p99"
printf '%-8s %12s %10s\n' ladle "$ladle_rps" "$(p99 ladle)" nginx "$nginx_rps" "$(p99 nginx)"
echo "ratio ladle/nginx: $(awk -v a="$ladle_rps" -v b="$nginx_rps" 'BEGIN { printf "%.3f", a / b }')   (target >= 0.35)"
echo "server peak RSS during the run: $((rss_kb / 1024)) MB"
