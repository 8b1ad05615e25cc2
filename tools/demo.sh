#!/usr/bin/env bash
# Quick start, part one: installs what it needs, builds keel, makes a keel
# disk (read-only erofs root, STATE) holding a busybox image and a
# container unit, boots it in QEMU with keel as PID 1 of Debian's kernel,
# and shows keel's main job: the image imported into the store, the unit's
# container running an HTTP server, `keel ps`, a request the container
# answers, its log; then keel powers the VM off. Ends by itself; exits 0
# only if the guest powered off cleanly (and the container answered, when
# this keel can run containers from images).
#
# The quick build is the static glibc one, the `keel` target only, at -O1
# without debug info (the `demo` preset: half the compile time of the
# default preset's -O2 -g); --musl boots the shipped musl binary instead,
# whose toolchain and libraries take another ~15 minutes to build the first
# time. Other arguments go to tools/keel-qemu. Everything is made offline: the image
# comes from the host's busybox-static (tools/mkbusybox-image).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

preset=demo
if [ "${1:-}" = --musl ]; then
  preset=musl
  shift
fi

started=$SECONDS
tools/setup.sh demo
if [ "$preset" = musl ]; then
  tools/musl/build-deps.sh # cached in ~/.cache/keel
fi
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target keel

work=$(mktemp -d "${TMPDIR:-/tmp}/keel-demo.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
# The disk's root needs no debug info: a smaller erofs image, made faster.
objcopy --strip-debug "build/$preset/keel" "$work/keel"
tools/mkbusybox-image --output "$work/busybox.tar" \
  --file tools/demo/image/health.sh:/health.sh --file tools/demo/image/www:/www
mkdir -p "$work/units/multi-user.target.wants"
cp tools/demo/busybox-image.service tools/demo/web.container "$work/units/"
ln -s ../web.container "$work/units/multi-user.target.wants/web.service" # keel enable web
# --container-network: the modules of keel's bridge (the published port).
tools/mkimage --keel "$work/keel" --busybox --container-network --state-size 128 \
  --file "$work/units:/etc/keel/units" \
  --file "$work/busybox.tar:/usr/share/keel-images/busybox.tar" \
  --file tools/demo/demo.sh:/demo.sh --output "$work/disk"
echo "demo: built and staged in $((SECONDS - started)) s; booting" >&2

status=0
tools/keel-qemu --initrd "$work/disk/initramfs.img" --disk "$work/disk/disk.img" \
  --memory 768 --append 'keel.run="/bin/sh /demo.sh"' --timeout 240 \
  --log "$work/console.log" "$@" || status=$?
echo "demo: $((SECONDS - started)) s in all" >&2
[ "$status" -eq 0 ] || exit "$status"
verdict=$(tr -d '\r' <"$work/console.log" | grep -E '^demo: (OK|FAILED)' | tail -n 1 || true)
case "$verdict" in
  "demo: OK") ;;
  *)
    echo "demo: the guest powered off, but the demo did not work: ${verdict:-no verdict from the guest}" >&2
    exit 1
    ;;
esac
