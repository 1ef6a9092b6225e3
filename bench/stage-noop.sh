#!/bin/sh
# End-to-end staging of a 1 KB app with the noop buildpack, runc and process executors.
# Target: runc median under 150 ms, container start included. Needs root and runc.
# Usage: bench/stage-noop.sh   (honours CARGO_TARGET_DIR)
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p ladle-builder
cargo bench -p ladle-stager --bench stage_noop
