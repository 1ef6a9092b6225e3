#!/usr/bin/env bash
# Runs every test suite: unit tests, the builder suite, the stager's runc suites and the black-box
# HTTP suite on SQLite, then the HTTP suite and the server's unit tests (the staging runner's use
# a real database) again on PostgreSQL. Installs the Debian packages the tests need first (as
# root; scripts/install-packages.sh). Needs root and runc: the staging tests run real containers.
#
# Tests that need root and runc are `#[ignore]`d, so that a plain `cargo test` without them
# reports them as skipped; here they run (--include-ignored) and fail saying what is missing.
# (--include-ignored also runs doc examples marked `ignore`: mark those `no_run` or `text`.)
# Without a reachable PostgreSQL the second pass is left out with a notice, or fails when CI is
# set.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-packages.sh

# The staging tests run the real ladle-builder binary, built beside the test binaries.
cargo build --locked --workspace --bins
cargo test --locked --workspace -- --include-ignored

pg_url=${LADLE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1/postgres}
if command -v pg_lsclusters >/dev/null; then
  # A local PostgreSQL that is installed but stopped is started.
  pg_lsclusters -h | while read -r version cluster _port status _rest; do
    if [ "$status" = down ]; then
      pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start ||
        echo "cannot start the PostgreSQL cluster $version/$cluster"
    fi
  done
fi
if PGCONNECT_TIMEOUT=10 timeout 20 psql -w "$pg_url" -qtAc 'select 1' >/dev/null; then
  LADLE_TEST_DATABASE_URL=$pg_url cargo test --locked -p ladle --lib --test api -- --include-ignored
else
  case "${CI:-}" in
    '' | 0 | false)
      echo "PostgreSQL is not reachable at $pg_url: the HTTP suite ran on SQLite only" \
        "(LADLE_TEST_DATABASE_URL names another server)"
      ;;
    *)
      echo "PostgreSQL is not reachable at $pg_url, and CI is set: the HTTP suite must also" \
        "pass on PostgreSQL" >&2
      exit 1
      ;;
  esac
fi
