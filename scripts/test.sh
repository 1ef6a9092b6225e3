#!/usr/bin/env bash
# Builds every binary (the staging tests run the real ladle-builder) and runs every test suite:
# unit tests, the builder suite, the stager's runc suite and the black-box HTTP suite; then the
# HTTP suite and the server's unit tests (the staging runner's use a real database) again against
# PostgreSQL when this machine has it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
cargo test --workspace

pg_url=${LADLE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1/postgres}
if command -v pg_ctlcluster >/dev/null && ! timeout 10 pg_isready -q -h 127.0.0.1; then
  for version in /etc/postgresql/*/; do
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
  done
fi
if command -v psql >/dev/null && timeout 10 psql "$pg_url" -qtAc 'select 1' >/dev/null 2>&1; then
  LADLE_TEST_DATABASE_URL=$pg_url cargo test -p ladle --lib --test api
else
  echo "PostgreSQL is not reachable at $pg_url: the HTTP suite ran on SQLite only"
fi
