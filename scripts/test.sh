#!/usr/bin/env bash
# Builds every binary (the staging tests run the real ladle-builder) and runs every test suite:
# unit tests, the builder suite, the stager's runc suite and the black-box HTTP suite.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
cargo test --workspace
