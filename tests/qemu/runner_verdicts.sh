#!/usr/bin/env bash
# runner_verdicts: tools/keel-qemu tells a clean power-off (0) from a kernel
# panic because PID 1 exited (3) and a reboot (4). Independent of keel: /init
# is a busybox script (guest/verdict_init.sh).
# Usage: runner_verdicts.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

check() { # action expected-status verdict-text
  qt_boot --busybox --init-script "$QT_GUEST/verdict_init.sh" \
    --append "verdict_action=$1" --timeout 60
  qt_expect "VERDICT_INIT: $1" 60
  qt_wait_exit
  [ "$QT_STATUS" -eq "$2" ] ||
    qt_fail "verdict_action=$1: keel-qemu exited $QT_STATUS, expected $2: $(qt_verdict)"
  grep -q "keel-qemu: $3" "$QT_RUNNER_LOG" ||
    qt_fail "verdict_action=$1: verdict 'keel-qemu: $3...' missing: $(qt_verdict)"
  echo "$QT_NAME: $1 -> $QT_STATUS: $(qt_verdict)"
}

QT_FATAL_RE='' # the panic below is expected
check poweroff 0 'guest powered off cleanly'
check exit 3 'kernel panic'
check reboot 4 'guest rebooted instead of powering off'
echo "PASS: $QT_NAME"
