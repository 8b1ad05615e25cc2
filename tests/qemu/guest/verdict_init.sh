#!/bin/busybox sh
# shellcheck shell=dash
# /init for runner_verdicts: ends the boot the way the kernel command line
# parameter verdict_action= (an environment variable of /init) asks.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
echo "VERDICT_INIT: ${verdict_action:-unset}"
case "${verdict_action:-}" in
  poweroff) /bin/busybox poweroff -f ;;
  reboot) /bin/busybox reboot -f ;;
  halt) /bin/busybox halt -f ;;
  exit) exit 0 ;; # PID 1 exits: "Attempted to kill init!"
esac
exec /bin/busybox sleep 100000
