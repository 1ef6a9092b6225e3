#!/bin/sh
# Time to prepare a staging (filesystem, app and buildpack unpacked, container root, bundle,
# network), per staging as before the pool and the buildpack cache, and with both, one at a
# time and 2 at a time, in one run. Needs root and runc.
# Usage: bench/stage-prepare.sh   (honours CARGO_TARGET_DIR)
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p ladle-builder
cargo bench -p ladle-stager --bench prepare
