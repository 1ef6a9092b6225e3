#!/usr/bin/env bash
# Packaging speed of ladle-builder against the floor a shell builder cannot beat:
# `bash bin/compile` of the same noop buildpack plus `tar czf` of the same 30 MB app tree.
# Target: ladle-builder's median within 1.2x of the floor's median.
#
#   bench/builder-package.sh [runs]      (default 7 runs; CARGO_TARGET_DIR honoured)
set -euo pipefail

runs=${1:-7}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ladle-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "building release binary..." >&2
(cd "$repo" && cargo build --release -q -p ladle-builder)
builder=$target/release/ladle-builder

# 30 MB app: ~15 MB of compressible text in many small files, ~15 MB of random data in
# fewer larger ones, a couple of nested folders, a dotfile and a symlink.
make_app() {
  local app=$1 i
  mkdir -p "$app/src/lib" "$app/assets" "$app/vendor/bundle"
  for i in $(seq 1 300); do
    # Source-like text: repetitive but not trivially so (~50 KB each).
    awk -v seed="$i" 'BEGIN { srand(seed); for (l = 0; l < 850; l++)
      printf "def method_%d(arg_%d):\n    return compute(%d, \"%x\")\n", l, int(rand()*1000), l*seed, int(rand()*1e9) }' \
      > "$app/src/lib/module_$i.py"
  done
  for i in $(seq 1 150); do
    head -c 102400 /dev/urandom > "$app/assets/blob_$i.bin"
  done
  echo "secret=dev" > "$app/.env"
  ln -s src/lib "$app/lib"
}

make_app "$work/app-template"
size=$(du -sb "$work/app-template" | cut -f1)
echo "app tree: $((size / 1024 / 1024)) MB, $(find "$work/app-template" -type f | wc -l) files" >&2

# Admin buildpack at its legacy (md5) folder name, which the builder accepts as CF does; it
# saves this script an xxhash implementation.
bp_dir=$work/buildpacks/$(printf %s noop | md5sum | cut -c1-32)
mkdir -p "$(dirname "$bp_dir")"
cp -a "$repo/fixtures/buildpacks/noop" "$bp_dir"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

fresh_workspace() {
  rm -rf "$work/app" "$work/cache" "$work/out" "$work/downloads"
  cp -a "$work/app-template" "$work/app"
  mkdir -p "$work/cache" "$work/out"
  sync
}

run_builder() {
  "$builder" -buildDir="$work/app" -buildpacksDir="$work/buildpacks" \
    -buildpacksDownloadDir="$work/downloads" -buildArtifactsCacheDir="$work/cache" \
    -outputDroplet="$work/out/droplet.tgz" -outputMetadata="$work/out/result.json" \
    -outputBuildArtifactsCache="$work/out/cache.tgz" -buildpackOrder=noop \
    >/dev/null 2>"$work/builder.stderr" || { cat "$work/builder.stderr" >&2; return 1; }
}

run_floor() {
  bash "$bp_dir/bin/compile" "$work/app" "$work/cache"
  tar czf "$work/out/floor.tgz" -C "$work/app" .
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

builder_times=() floor_times=()
for run in $(seq 1 "$runs"); do
  fresh_workspace; start=$(now_ms); run_builder; builder_times+=($(( $(now_ms) - start )))
  droplet_size=$(stat -c %s "$work/out/droplet.tgz")
  fresh_workspace; start=$(now_ms); run_floor; floor_times+=($(( $(now_ms) - start )))
  echo "run $run: ladle-builder ${builder_times[-1]} ms, floor ${floor_times[-1]} ms" >&2
done

builder_median=$(printf '%s\n' "${builder_times[@]}" | median)
floor_median=$(printf '%s\n' "${floor_times[@]}" | median)
floor_size=$(stat -c %s "$work/out/floor.tgz")
echo "ladle-builder median: ${builder_median} ms (droplet $((droplet_size / 1024)) KB)"
echo "floor median:         ${floor_median} ms (tar czf $((floor_size / 1024)) KB)"
awk -v b="$builder_median" -v f="$floor_median" 'BEGIN { printf "ratio: %.2fx (target <= 1.20x)\n", b / f }'
