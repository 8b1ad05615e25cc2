#!/bin/busybox sh
# /init for the busybox side of boot_services: the same 50 trivial processes
# as keel's 50 services, started by busybox init from an inittab, then the
# report (after the 50 in inittab order, so all of them have been started).
/bin/busybox mount -t proc proc /proc
/bin/busybox mknod /dev/kmsg c 1 11 # for report.sh's marker
/bin/busybox mkdir -p /etc
{
  i=1
  # distinct commands: busybox init drops duplicate inittab entries
  while [ "$i" -le 50 ]; do echo "::once:/bin/sleep $((1000 + i))"; i=$((i + 1)); done
  echo "::once:/bin/sh /report.sh busybox"
} >/etc/inittab
exec /bin/busybox init
