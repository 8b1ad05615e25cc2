#!/usr/bin/env bash
# Quick start, part one: installs what is needed, builds keel (the shipped
# static musl binary), boots it as PID 1 of Debian's kernel in QEMU and shows
# it at work. Ends by itself when keel powers the VM off; exits non-zero if
# that did not happen cleanly.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

tools/setup.sh
tools/musl/build-deps.sh # the shipped build is musl; its libraries are cached
cmake --preset musl >/dev/null
cmake --build --preset musl
exec tools/keel-qemu --keel build/musl/keel --busybox \
  --file tools/demo/demo.sh:/demo.sh \
  --append 'keel.run="/bin/sh /demo.sh"' --timeout 120 "$@"
