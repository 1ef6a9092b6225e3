#!/usr/bin/env bash
# Runs every test suite: unit tests, the builder suite, the stager's runc suites and the black-box
# HTTP suite on SQLite, then the HTTP suite and the server's unit tests (the staging runner's use
# a real database) again on PostgreSQL, then the HTTP suite against an S3 server. Installs the
# Debian packages the tests need first (as root; scripts/install-packages.sh). Needs root and
# runc: the staging tests run real containers.
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
# The S3-only tests (tests/api/s3.rs) wait for the S3 pass at the end.
cargo test --locked --workspace -- --include-ignored --skip s3::

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
  LADLE_TEST_DATABASE_URL=$pg_url cargo test --locked -p ladle --lib --test api -- --include-ignored --skip s3::
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

# S3: the HTTP suite a third time (on SQLite), every server's blobs in a folder of its own in a
# real S3-compatible server, with the tests that need S3 (parts, aborted uploads, download
# redirects), which the passes above leave out (`--skip s3::`; a plain `cargo test` shows them
# as ignored). scripts/s3-server.sh installs moto and starts it on loopback, unless LADLE_TEST_BLOBSTORE=s3://bucket and the AWS_* variables
# name another server already. A server that does not answer fails the pass.
if [ -z "${LADLE_TEST_BLOBSTORE:-}" ]; then
  s3_dir=$(mktemp -d)
  trap 'scripts/s3-server.sh stop "$s3_dir"; rm -rf "$s3_dir"' EXIT
  scripts/s3-server.sh start "$s3_dir"
  set -a
  . "$s3_dir/env"
  set +a
fi
cargo test --locked -p ladle --test api -- --include-ignored
