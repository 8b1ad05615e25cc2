#!/usr/bin/env bash
# Quick start, part one: installs what it needs, builds keel, boots it as
# PID 1 of Debian's kernel in QEMU and shows it at work as init and service
# manager. Ends by itself when keel powers the VM off; exits non-zero if
# that did not happen cleanly.
#
# The quick build is the static glibc one (a few minutes on a fresh
# machine); --musl boots the shipped musl binary instead, whose toolchain
# and libraries take another ~15 minutes to build the first time. Other
# arguments go to tools/keel-qemu.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

preset=default
if [ "${1:-}" = --musl ]; then
  preset=musl
  shift
fi

tools/setup.sh demo
if [ "$preset" = musl ]; then
  tools/musl/build-deps.sh # cached in ~/.cache/keel
fi
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target keel
exec tools/keel-qemu --keel "build/$preset/keel" --busybox \
  --file tools/demo/demo.sh:/demo.sh \
  --unit tools/demo/clock.service --unit tools/demo/flaky.service \
  --file tools/demo/clock.service:/etc/keel/units/multi-user.target.wants/clock.service \
  --file tools/demo/flaky.service:/etc/keel/units/multi-user.target.wants/flaky.service \
  --append 'keel.run="/bin/sh /demo.sh"' --timeout 120 "$@"
