#!/bin/busybox sh
# shellcheck shell=dash
# A busybox sh imitation of keel's PID 1 contract, used only to check the QEMU
# harness and tools/keel-qemu without keel (KEEL_QEMU_STANDIN=1, see lib.sh).
# It mounts what keel mounts, loads keel.modules=, prints keel's ready line
# to /dev/kmsg, runs keel.run= commands and the ExecStart= of units, and
# powers off on SIGUSR2 (sent by standin/keel, installed as /bin/keel).
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup

trap 'sync; poweroff -f' USR2
trap 'sync; reboot -f' TERM

# /proc/cmdline keeps the quotes; the shell's own parser removes them.
eval "set -- $(cat /proc/cmdline)"
for arg; do
  case "$arg" in
    keel.modules=*)
      for m in $(echo "${arg#*=}" | tr , ' '); do
        modprobe "$m" || echo "standin: modprobe $m failed" >/dev/kmsg
      done
      ;;
  esac
done
echo "keel: ready in $(cut -d' ' -f1 /proc/uptime) s since kernel start (stand-in)" >/dev/kmsg
for arg; do
  case "$arg" in
    keel.run=*)
      # shellcheck disable=SC2086 # split like keel splits the command
      ${arg#keel.run=} &
      ;;
  esac
done
for unit in /etc/keel/units/*.service; do
  [ -f "$unit" ] || continue
  cmd=$(sed -n 's/^ExecStart=//p' "$unit")
  # shellcheck disable=SC2086 # split like keel splits the command
  $cmd &
done
while :; do
  wait
  sleep 1 &
  wait $!
done
