# Sourced by the benchmarks' guest scripts (oci_run.sh, run_image.sh) under
# keel as PID 1 in QEMU: the initramfs's rootfs cannot be pivot_root'ed
# away from (EINVAL whatever the new root is on), so a runtime that enters
# its containers with pivot_root runs them from a tmpfs root made here, as
# switch_root would make one. Also the scripts' common ending.
# shellcheck shell=sh

# finish STATUS: the end. In the tmpfs root (BENCH_SWITCHED), the shell
# that made it powers off once this script has returned.
finish() {
  [ -n "$BENCH_SWITCHED" ] || keel poweroff
  exit "$1"
}

fail() {
  echo "BENCH: FAIL: $*" >&2
  finish 1
}

# enter_tmpfs_root "PATHS" SCRIPT ARGS...: runs `sh SCRIPT ARGS` again in
# a private mount namespace whose root is a tmpfs with the initramfs's
# programs bound in (bin sbin lib lib64 usr etc), PATHS (words, absolute)
# copied onto it, fresh /run /tmp /var, and the API filesystems (cgroup2
# under /sys) bound from PID 1's namespace; then powers off. Returns only
# if already there.
enter_tmpfs_root() {
  [ -z "$BENCH_SWITCHED" ] || return 0
  export BENCH_SWITCHED=1
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare -m /bin/sh -c '
    set -e
    paths=$1
    shift
    mkdir -p /newroot
    mount -t tmpfs -o mode=0755 bench /newroot
    for d in bin sbin lib lib64 usr etc proc sys dev; do
      [ -e /$d ] || continue
      mkdir /newroot/$d
      mount --rbind /$d /newroot/$d
    done
    mkdir -p /newroot/run /newroot/tmp /newroot/var/tmp /newroot/var/lib
    # shellcheck disable=SC2086 # words
    cp -a $paths /newroot/
    cd /newroot
    mount --move . /
    exec chroot . /bin/sh "$@"
  ' sh "$@" || echo "BENCH: FAIL: the tmpfs root could not be made, or the benchmark in it failed"
  keel poweroff
  exit 0
}
