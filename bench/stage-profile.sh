#!/bin/sh
# Where a runc staging's wall time goes: traces the sequential part of the stage_noop bench
# (21 stagings of a 1 KB app with the noop buildpack, network on, after 3 warm-ups) with
# strace, then prints per step the median of its wall time and of when it starts: mkfs.ext4,
# mount, nft, slirp4netns, runc run (from its start to the builder's and from the builder's
# exit to its own), the builder and the buildpack's scripts, what follows runc's exit (the
# stager's teardown, and `runc delete` where there is one).
# strace slows process starts down: compare the steps with each other, and the totals with
# bench/stage-noop.sh. Needs root, runc and strace (apt-get install strace).
# Usage: bench/stage-profile.sh   (honours CARGO_TARGET_DIR)
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p ladle-builder
target=${CARGO_TARGET_DIR:-target}
bench=$(cargo bench -p ladle-stager --bench stage_noop --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*stage_noop[^"]*\)".*/\1/p' | tail -1)
trace=$(mktemp)
trap 'rm -f "$trace"' EXIT
LADLE_BUILDER_PATH=$(realpath "$target/release/ladle-builder") STAGE_NOOP_ONLY_FIRST=1 \
  strace -f -q --seccomp-bpf -tt -e trace=execve,execveat,exit_group -s 64 -o "$trace" "$bench"
# The first 3 stagings are the bench's warm-up.
python3 bench/stage-profile.py "$trace" 3 24
