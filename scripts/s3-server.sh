#!/usr/bin/env bash
# The S3-compatible server of the test command's S3 pass: moto (from PyPI) in server mode, on
# loopback, keeping objects in memory, with one bucket for the tests.
#
#   scripts/s3-server.sh install     install moto into a virtualenv under target/ (once)
#   scripts/s3-server.sh start DIR [PORT]
#                                    install if needed, start on PORT (default a free loopback
#                                    port), create the bucket; DIR/env then holds the variables
#                                    that point ladle and the HTTP suite at it, DIR/pid the
#                                    server's pid. Started again on the same PORT, it is the
#                                    same endpoint with an empty bucket (moto keeps objects in
#                                    memory)
#   scripts/s3-server.sh stop DIR    stop the server started with DIR
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${LADLE_S3_VENV:-$PWD/target/s3-server/venv}
moto_version=5.2.5
bucket=ladle-test

install() {
  if "$venv/bin/moto_server" --help >/dev/null 2>&1 &&
    "$venv/bin/pip" show moto 2>/dev/null | grep -qx "Version: $moto_version"; then
    return
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
}

start() {
  local dir=$1
  install
  mkdir -p "$dir"
  local port=${2:-}
  if [ -z "$port" ]; then
    port=$("$venv/bin/python" -c \
      'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/pid"
  cat >"$dir/env" <<EOF
AWS_ENDPOINT_URL=http://127.0.0.1:$port
AWS_ALLOW_HTTP=true
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=ladle-test
AWS_SECRET_ACCESS_KEY=ladle-test-secret
LADLE_TEST_BLOBSTORE=s3://$bucket
EOF
  # Waits (30 s at most) until the server answers, then makes the bucket.
  (set -a && . "$dir/env" && "$venv/bin/python" - "$bucket") <<'EOF' || { stop "$dir"; exit 1; }
import os, sys, time
import boto3, botocore.exceptions
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
deadline = time.monotonic() + 30
while True:
    try:
        s3.create_bucket(Bucket=sys.argv[1])
        break
    except botocore.exceptions.EndpointConnectionError:
        if time.monotonic() > deadline:
            sys.exit("the S3 server did not answer within 30 s")
        time.sleep(0.2)
EOF
  echo "S3 server (moto $moto_version) on 127.0.0.1:$port, bucket $bucket"
}

stop() {
  local dir=$1
  if [ -f "$dir/pid" ]; then
    local pid
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    # Until it has gone (5 s at most), so that its port is free for a restart.
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$dir/pid"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: $0 start DIR [PORT]}" "${3:-}" ;;
  stop) stop "${2:?usage: $0 stop DIR}" ;;
  *)
    echo "usage: $0 install | start DIR [PORT] | stop DIR" >&2
    exit 2
    ;;
esac
