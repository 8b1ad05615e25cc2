#!/usr/bin/env bash
# Host integration tests of `keel init` as PID 1 of a PID namespace (the
# container-init mode, like tini): real namespaces, real processes, no VM.
# usage: container_init.sh KEEL_BINARY CASE
set -euo pipefail

keel=$(realpath "$1")
case_name=$2
work=$(mktemp -d /tmp/keel-host.XXXXXX)
bg_pid=""
cleanup() {
  if [ -n "$bg_pid" ]; then kill -KILL "$bg_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $case_name: $*" >&2; exit 1; }
pass() { echo "PASS: $case_name"; }

# Runs keel init as PID 1 of new PID and mount namespaces (/proc remounted).
# Started in the background it is `exec`'d, so $! is unshare and keel its child.
in_namespace() { exec unshare --pid --fork --kill-child --mount-proc "$keel" init "$@"; }
# Foreground runs need their own subshell for the exec.
run_in_namespace() { (in_namespace "$@"); }

# Waits (bounded) until the command succeeds.
wait_for() {
  local tries=$1; shift
  for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}

export KEEL_CONTROL_SOCKET="$work/init.sock"

case "$case_name" in
exit_status)
  # The main command's exit status becomes init's.
  set +e; run_in_namespace --control-socket "$work/init.sock" -- sh -c 'exit 7'; rc=$?; set -e
  [ "$rc" -eq 7 ] || fail "expected exit status 7, got $rc"
  pass ;;

orphans_reaped)
  # 300 grandchildren are orphaned to PID 1 and exit; none may stay a zombie.
  cat > "$work/storm.sh" <<'SCRIPT'
for i in $(seq 300); do (sleep 0.05 &) ; done
sleep 1
zombies=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == "Z"' | wc -l)
echo "zombies=$zombies"
[ "$zombies" -eq 0 ]
SCRIPT
  out=$(run_in_namespace --control-socket "$work/init.sock" -- sh "$work/storm.sh") \
    || fail "zombies left: $out"
  grep -q '^zombies=0$' <<<"$out" || fail "unexpected output: $out"
  pass ;;

signal_forwarded)
  # SIGTERM to init reaches the main command, whose exit status init returns.
  (in_namespace --control-socket "$work/init.sock" -- \
    sh -c 'trap "exit 42" TERM; echo ready > '"$work"'/ready; while :; do sleep 0.1; done') &
  bg_pid=$!
  wait_for 50 test -f "$work/ready" || fail "main command never started"
  init_pid=$(pgrep -P "$bg_pid" | head -n 1)
  [ -n "$init_pid" ] || fail "no init process under unshare"
  kill -TERM "$init_pid"
  set +e; wait "$bg_pid"; rc=$?; set -e; bg_pid=""
  [ "$rc" -eq 42 ] || fail "expected 42 from the trapped SIGTERM, got $rc"
  pass ;;

control_socket)
  # status answers over the socket with the workload; poweroff ends init.
  (in_namespace --control-socket "$work/init.sock" -- sleep 60) &
  bg_pid=$!
  wait_for 50 test -S "$work/init.sock" || fail "control socket never appeared"
  status=$("$keel" status --json) || fail "status failed"
  grep -q '"mode":"container"' <<<"$status" || fail "status: $status"
  grep -q '"pid":1,' <<<"$status" || fail "init is not PID 1: $status"
  grep -q '"name":"sleep".*"state":"running"' <<<"$status" || fail "status: $status"
  grep -q 'container init, pid 1' < <("$keel" status) || fail "human status output"
  "$keel" poweroff || fail "poweroff failed"
  set +e; wait "$bg_pid"; rc=$?; set -e; bg_pid=""
  # A requested poweroff is a clean stop, whatever the workload did on SIGTERM.
  [ "$rc" -eq 0 ] || fail "expected exit status 0 after poweroff, got $rc"
  set +e; err=$("$keel" status 2>&1); rc=$?; set -e
  [ "$rc" -ne 0 ] && grep -q "reach init" <<<"$err" || fail "status after exit: $err"
  pass ;;

non_root_refused)
  # A peer that is not root may not power off; it is told why.
  (in_namespace --control-socket "$work/init.sock" -- sleep 60) &
  bg_pid=$!
  wait_for 50 test -S "$work/init.sock" || fail "control socket never appeared"
  chmod 755 "$work"
  set +e; err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$keel" poweroff 2>&1); rc=$?; set -e
  [ "$rc" -ne 0 ] || fail "non-root poweroff succeeded"
  grep -q "permission denied: poweroff needs root" <<<"$err" || fail "message: $err"
  grep -q '"state":"running"' < <("$keel" status --json) || fail "init did not survive the refusal"
  "$keel" poweroff
  wait "$bg_pid" || true; bg_pid=""
  pass ;;

unit_sandbox)
  # A unit's SystemCallFilter (libseccomp) and CapabilityBoundingSet (libcap)
  # apply to its process; a malformed unit is reported, the others still run.
  mkdir "$work/units"
  cat > "$work/units/sandboxed.service" <<UNIT
[Unit]
Description=runs with mkdir denied and CAP_NET_RAW dropped
[Service]
ExecStart=/bin/sh -c 'if mkdir $work/made; then echo mkdir=allowed; else echo mkdir=denied; fi > $work/result.mkdir; grep CapBnd /proc/self/status > $work/result.caps'
SystemCallFilter=~mkdir mkdirat
CapabilityBoundingSet=~CAP_NET_RAW
[Install]
WantedBy=multi-user.target
UNIT
  # Enabled, as `keel enable` would: the default target pulls it in at boot.
  mkdir "$work/units/multi-user.target.wants"
  ln -s ../sandboxed.service "$work/units/multi-user.target.wants/sandboxed.service"
  printf '[Service]\nExecStart=/bin/true\nthis line is not an assignment\n' > "$work/units/broken.service"
  set +e
  log=$(run_in_namespace --control-socket "$work/init.sock" --units "$work/units" -- \
          sh -c "for i in \$(seq 50); do [ -s $work/result.caps ] && exit 0; sleep 0.1; done; exit 1" 2>&1)
  rc=$?; set -e
  [ "$rc" -eq 0 ] || fail "sandboxed unit never wrote its result; log: $log"
  grep -q 'mkdir=denied' "$work/result.mkdir" || fail "mkdir was not denied: $(cat "$work/result.mkdir")"
  [ ! -e "$work/made" ] || fail "directory was created despite the filter"
  bnd=$(awk '{print $2}' "$work/result.caps")
  # CAP_NET_RAW is capability 13.
  (( (16#$bnd >> 13) & 1 )) && fail "CAP_NET_RAW still in the bounding set ($bnd)"
  (( (16#$bnd >> 12) & 1 )) || fail "CAP_NET_ADMIN was dropped too ($bnd)"
  grep -q "broken.service:3" <<<"$log" || fail "malformed unit not reported with file:line; log: $log"
  pass ;;

*)
  echo "unknown case $case_name" >&2; exit 2 ;;
esac
