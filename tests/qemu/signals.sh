#!/usr/bin/env bash
# signals: PID 1 ends the system on signals as documented in the README:
# SIGPWR powers off, SIGINT (ctrl-alt-del) reboots. Each boot ends with the
# matching kernel line and no panic.
# Usage: signals.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_boot --busybox --file "$QT_GUEST/signal.sh:/test.sh" \
  --append 'keel.run="/bin/sh /test.sh PWR"'
qt_expect "$QT_READY_RE" 60
qt_expect 'SIGNAL: sending SIGPWR' 30
qt_expect 'keel: shutting down for poweroff' 30
qt_finish 0
qt_reject 'Kernel panic'

# keel-qemu exits 4 when the guest rebooted (QEMU runs with -no-reboot).
: >"$QT_LOG" # the second boot's console starts empty
qt_boot --busybox --file "$QT_GUEST/signal.sh:/test.sh" \
  --append 'keel.run="/bin/sh /test.sh INT"'
qt_expect "$QT_READY_RE" 60
qt_expect 'keel: shutting down for reboot' 30
qt_finish 4
qt_expect 'reboot: Restarting system' 5
qt_reject 'Kernel panic'
