#!/bin/sh
# shellcheck shell=dash
# Helpers for the guest side of the services_* QEMU tests (busybox sh).

exec >/dev/console 2>&1

# Centiseconds since boot, from /proc/uptime ("12.34 ..." -> 1234).
uptime_cs() {
  read -r up _ </proc/uptime
  echo "${up%.*}${up#*.}" | sed 's/^0*//; s/^$/0/'
}

# stamp NAME: record the time under /run/svc/NAME (appends: one line per run).
stamp() {
  mkdir -p /run/svc
  uptime_cs >>"/run/svc/$1"
}

# wait_for SECONDS COMMAND...: poll every 0.2 s until COMMAND succeeds.
wait_for() {
  limit=$(($1 * 5))
  shift
  i=0
  while [ "$i" -lt "$limit" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
    i=$((i + 1))
  done
  return 1
}

# state UNIT: "active_state/sub_state" from keel status --json.
state() {
  keel status "$1" --json 2>/dev/null |
    sed -n 's/.*"active_state":"\([a-z-]*\)","sub_state":"\([a-z-]*\)".*/\1\/\2/p'
}
in_state() { [ "$(state "$1")" = "$2" ]; }

lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }
at_least() { [ "$(lines "$1")" -ge "$2" ]; }

# verdict TEST OK|MESSAGE: the marker the host waits for, then power off.
pass() {
  echo "$TEST: PASS"
  keel poweroff
  sleep 600
}
fail() {
  echo "$TEST: FAIL: $*"
  keel list-units --all
  keel logs -n 40
  keel poweroff
  sleep 600
}
