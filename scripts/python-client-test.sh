#!/usr/bin/env bash
# Acceptance test: the PyPI package `cloudfoundry-client`, unchanged, against a real `ladle serve`
# on a loopback port. It logs in with a user name and password (the built-in login), lists
# organizations, spaces, apps, packages, droplets, buildpacks and stacks, and, its access token
# living 2 s, refreshes it by itself when the API says it has expired and goes on.
#
#   scripts/python-client-test.sh install   make the virtualenv (target/python-client/venv)
#   scripts/python-client-test.sh           install if needed, then run (needs the debug
#                                           `ladle` binary: cargo build -p ladle)
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${LADLE_PYTHON_CLIENT_VENV:-$PWD/target/python-client/venv}
client_version=1.40.4

install() {
  if "$venv/bin/pip" show cloudfoundry-client 2>/dev/null | grep -qx "Version: $client_version"; then
    return
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "cloudfoundry-client==$client_version"
}

if [ "${1:-}" = install ]; then
  install
  exit 0
fi
install

ladle=${CARGO_TARGET_DIR:-$PWD/target}/debug/ladle
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-python-client.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

data=$work/data
export LADLE_LOG=warn LADLE_STAGING_SLOTS=0
"$ladle" serve --data-dir "$data" --listen 127.0.0.1:0 --access-token-ttl-seconds 2 \
  >"$work/stdout" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 1 600); do
  api=$(sed -n 's/^ladle listening on //p' "$work/stdout")
  [ -n "$api" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$api" ] || { echo "ladle serve did not start" >&2; exit 1; }

# A user for the client, and a space where it is a developer (set up with an admin token).
user_guid=$(echo "py-password" | "$ladle" users create py-user --password-stdin \
  --email py-user@example.com --data-dir "$data")
admin=$("$ladle" token --data-dir "$data" --admin)
call() { # method path json → body
  curl -sf -X "$1" "$api$2" -H "Authorization: bearer $admin" -H 'Content-Type: application/json' -d "$3"
}
guid_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["guid"])'; }
org=$(call POST /v3/organizations '{"name":"py-org"}' | guid_of)
space=$(call POST /v3/spaces "{\"name\":\"py-space\",\"relationships\":{\"organization\":{\"data\":{\"guid\":\"$org\"}}}}" | guid_of)
call POST /v3/roles "{\"type\":\"organization_user\",\"relationships\":{\"user\":{\"data\":{\"guid\":\"$user_guid\"}},\"organization\":{\"data\":{\"guid\":\"$org\"}}}}" >/dev/null
call POST /v3/roles "{\"type\":\"space_developer\",\"relationships\":{\"user\":{\"data\":{\"guid\":\"$user_guid\"}},\"space\":{\"data\":{\"guid\":\"$space\"}}}}" >/dev/null
app=$(call POST /v3/apps "{\"name\":\"py-app\",\"relationships\":{\"space\":{\"data\":{\"guid\":\"$space\"}}}}" | guid_of)
call POST /v3/packages "{\"type\":\"bits\",\"relationships\":{\"app\":{\"data\":{\"guid\":\"$app\"}}}}" >/dev/null

"$venv/bin/python" - "$api" "$org" "$space" "$app" <<'PY'
import sys, time
from cloudfoundry_client.client import CloudFoundryClient

api, org, space, app = sys.argv[1:]
client = CloudFoundryClient(api)
client.init_with_user_credentials("py-user", "py-password")

def names(manager):
    return [entity["guid"] for entity in manager.list()]

def check_all():
    assert names(client.v3.organizations) == [org], "organizations"
    assert names(client.v3.spaces) == [space], "spaces"
    assert names(client.v3.apps) == [app], "apps"
    assert len(names(client.v3.packages)) == 1, "packages"
    assert names(client.v3.droplets) == [], "droplets"
    names(client.v3.buildpacks)
    assert len(names(client.v3.stacks)) >= 1, "stacks"
    assert client.v3.apps.get(app)["name"] == "py-app"

check_all()
first_token = client._access_token
# The access token lives 2 s: the next calls get 401 CF-InvalidAuthToken, and the client
# refreshes with its refresh token and retries.
time.sleep(3)
check_all()
assert client._access_token != first_token, "the client did not refresh its token"
print("cloudfoundry-client: login, lists and refresh OK")
PY
