#!/bin/sh
# shellcheck shell=dash
# Helpers the guest checks of the keel-disk QEMU tests source (busybox
# sh): waiting, a unit's state as `keel status --json` gives it, an HTTP
# GET. The host side puts this file at /lib/keel-test/check_lib.sh.

# wait_for SECONDS COMMAND...: poll every 0.5 s until COMMAND succeeds.
wait_for() {
  limit=$(($1 * 2))
  shift
  i=0
  while [ "$i" -lt "$limit" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
    i=$((i + 1))
  done
  return 1
}

# eq EXPECTED COMMAND...: whether COMMAND prints EXPECTED (run anew at
# each try of wait_for).
eq() {
  want=$1
  shift
  [ "$("$@")" = "$want" ]
}

# state UNIT: "active_state/sub_state" from keel status --json.
state() {
  keel status "$1" --json 2>/dev/null |
    sed -n 's/.*"active_state":"\([a-z-]*\)","sub_state":"\([a-z-]*\)".*/\1\/\2/p'
}
is_active() { case "$(state "$1")" in active/*) return 0 ;; esac; return 1; }
is_failed() { case "$(state "$1")" in failed/*) return 0 ;; esac; return 1; }
# main_pid UNIT: its main process, 0 when it has none.
main_pid() {
  keel status "$1" --json 2>/dev/null | sed -n 's/.*"main_pid":\([0-9]*\).*/\1/p'
}

# get HOST PORT: the body of GET /, or nothing (and status 1). nc, since
# busybox 1.35's wget crashes on a refused connection.
get() {
  printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 "$1" "$2" >/tmp/get.out 2>/tmp/get.err || return 1
  grep -q '^HTTP/1\.[01] 200' /tmp/get.out || return 1
  tr -d '\r' </tmp/get.out | sed '1,/^$/d'
}
# get_error: why the last get failed.
get_error() { cat /tmp/get.err; head -n 1 /tmp/get.out; }
