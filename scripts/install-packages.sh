#!/usr/bin/env bash
# The one list of Debian packages that building ladle, running it, its tests, the README's curl
# session and the benchmarks need. Installs the missing ones when run as root; otherwise names
# them and fails. Used by the README's set-up command, scripts/test.sh and .ci/run.
set -euo pipefail

packages=(
  # Building: a C compiler and the C library headers for the crates with C parts (SQLite, ring).
  gcc libc6-dev
  # Staging: runc runs the containers; mkfs.ext4 (e2fsprogs) and loop mounts (mount,
  # util-linux) make the size-limited workspace; slirp4netns and nft (nftables) give a staging
  # its own network and deny list, and the tests build test networks with ip (iproute2); git
  # fetches git buildpacks.
  runc e2fsprogs mount util-linux slirp4netns nftables iproute2 git
  # The fixture buildpacks are shell and perl scripts.
  bash perl coreutils
  # Tests: busybox-static is the libc-free stack rootfs of a stager test; PostgreSQL is the
  # second database of the HTTP suite.
  busybox-static postgresql
  # The README's curl session (curl, zip, jq) and the scripts under bench/ (also wrk, unzip).
  curl zip jq unzip wrk
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q ' installed$' || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}"
