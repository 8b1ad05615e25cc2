#!/usr/bin/env bash
# Installs every Debian package that building and testing keel needs.
# Idempotent: packages already present are skipped, apt runs only when
# something is missing. Safe to call from every entry point.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config file clang-format git
  libseccomp-dev libcap-dev libprotobuf-dev protobuf-compiler libmbedtls-dev
  doctest-dev zlib1g-dev liblzma-dev libzstd-dev
  # fuzzing: clang 16 pairs with libc++ 16, which has std::expected
  clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev
  # boot images and QEMU
  qemu-system-x86 linux-image-amd64 busybox-static cpio gzip xz-utils zstd kmod
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
