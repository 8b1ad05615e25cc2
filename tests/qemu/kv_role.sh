#!/usr/bin/env bash
# kv_role: PID 1 runs the KV as keel-kv.service when the kernel command
# line configures it. A keel disk whose root holds Debian's etcdctl (with
# the C library it links) boots twice (guest/kv_role.sh checks, one line
# each):
#   1. keel.kv.name=m1: the unit becomes active (Type=notify), etcdctl puts
#      and gets a key on 127.0.0.1:2379, the data dir /var/lib/keel/kv is
#      on STATE, and a member killed with SIGKILL is restarted with the
#      key still there;
#   2. the same disk with keel.kv.heartbeat-interval=soon too: the unit
#      fails, its journal names --heartbeat-interval, and boot completes.
# A check without a PASS line fails the test.
# Usage: kv_role.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"
# The guest prints a FAIL line per failed check and goes on: wait for all.
# shellcheck disable=SC2034 # read by lib.sh's qt_expect
QT_FATAL_RE='Kernel panic|Attempted to kill init'

etcdctl=$(command -v etcdctl || true)
if [ -z "$etcdctl" ]; then
  echo "SKIP: $QT_NAME: no etcdctl on this machine (Debian's etcd-client)"
  exit 77
fi
# etcdctl is a Go binary linked with the C library: copy what it loads.
files=(--file "$etcdctl:/usr/bin/etcdctl")
while read -r lib; do
  [ -n "$lib" ] || continue
  files+=(--file "$(readlink -f -- "$lib"):$lib")
done < <(ldd "$etcdctl" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')

# run_boot MODE APPEND CHECKS...: boot the disk, wait for the guest's
# checks and its clean power-off, fail naming each check without a PASS.
run_boot() {
  local mode=$1 append=$2
  shift 2
  KEEL_QEMU_TIMEOUT=${KEEL_QEMU_TIMEOUT:-240} qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" \
    --append "$append keel.run=\"/bin/sh /kv/check.sh $mode\""
  qt_expect "$QT_READY_RE" 90
  qt_expect 'KV_ROLE: DONE' 180
  qt_wait_exit
  [ "$QT_STATUS" -eq 0 ] || qt_fail "keel-qemu exited $QT_STATUS, expected 0: $(qt_verdict)"
  qt_has 'reboot: Power down' || qt_fail "missing marker /reboot: Power down/"
  qt_reject 'Kernel panic'
  qt_reject 'Attempted to kill init'
  local console failures=() c line
  console=$(tr -d '\r' <"$QT_LOG")
  for c in "$@"; do
    line=$(grep -E "^KV_$c: (PASS|FAIL)" <<<"$console" | tail -n 1 || true)
    case "$line" in
      "KV_$c: PASS"*) ;;
      "KV_$c: FAIL"*) failures+=("${line#KV_}") ;;
      *) failures+=("$c: no verdict on the console") ;;
    esac
  done
  [ ${#failures[@]} -eq 0 ] || qt_fail "$mode boot: $(printf '%s; ' "${failures[@]}")"
  echo "$QT_NAME: $mode boot: every check passed"
}

qt_mkimage --busybox --state-size 256 "${files[@]}" --file "$QT_GUEST/kv_role.sh:/kv/check.sh" \
  --file "$QT_GUEST/check_lib.sh:/lib/keel-test/check_lib.sh"
run_boot serve 'keel.kv.name=m1' ACTIVE PUT_GET STATE RESTART
qt_log_restart
run_boot bad 'keel.kv.name=m1 keel.kv.heartbeat-interval=soon' FAILED MESSAGE BOOT
echo "PASS: $QT_NAME: every check passed"
