#!/usr/bin/env bash
# runner_timeout: tools/keel-qemu itself reports a guest that never powers
# off: exit 124 after --timeout, a "timed out" verdict, no QEMU left behind.
# Independent of keel: the guest's /init is a busybox script that sleeps.
# Usage: runner_timeout.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_boot --busybox --init-script "$QT_SRC/tests/qemu/guest/sleep_init.sh" --timeout 6
started=$(qt_now)
qt_wait_exit
took=$(($(qt_now) - started))
[ "$QT_STATUS" -eq 124 ] || qt_fail "keel-qemu exited $QT_STATUS, expected 124: $(qt_verdict)"
grep -q 'keel-qemu: timed out after 6 s' "$QT_RUNNER_LOG" ||
  qt_fail "verdict line 'keel-qemu: timed out after 6 s' missing: $(qt_verdict)"
# Only a guard against a runner that never gives up: the time includes
# building the image, which a loaded machine stretches a lot.
[ "$took" -lt 90000 ] || qt_fail "keel-qemu took $took ms to give up after a 6 s timeout"
# QEMU's command line holds the console log path: no process may still have it.
for f in /proc/[0-9]*/cmdline; do
  if grep -qF -- "logfile=$QT_LOG" < <(tr "\0" " " 2>/dev/null <"$f"); then
    qt_fail "QEMU still running after keel-qemu exited: ${f%/cmdline}"
  fi
done
echo "$QT_NAME: $(qt_verdict)"
echo "PASS: $QT_NAME"
