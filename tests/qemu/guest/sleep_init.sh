#!/bin/busybox sh
# shellcheck shell=dash
# /init for runner_timeout: comes up and never powers off.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
echo "SLEEP_INIT: up, never powering off"
exec /bin/busybox sleep 100000
