#!/bin/sh
# Guest side of boot_services: when the 50 services run, report the boot
# time (CLOCK_BOOTTIME, as /proc/uptime) and PID 1's memory, then power off.
exec >/dev/console 2>&1
if [ "$1" = busybox ]; then
  echo "BENCH: all started at $(cut -d' ' -f1 /proc/uptime) s"
fi
i=0
while [ "$(ps | grep -c '[s]leep 10[0-9][0-9]')" -lt 50 ] && [ $i -lt 100 ]; do
  sleep 0.1; i=$((i + 1))
done
sleep 1
echo "BENCH: running=$(ps | grep -c '[s]leep 10[0-9][0-9]') $(grep VmRSS /proc/1/status | tr -s ' \t' ' ')"
if [ "$1" = busybox ]; then busybox poweroff -f; else keel poweroff; fi
