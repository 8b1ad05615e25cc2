#!/usr/bin/env bash
# poweroff: `keel poweroff` from a guest shell, with a process still running,
# ends in the kernel's "reboot: Power down", keel-qemu exit 0, and neither
# "Kernel panic" nor "Attempted to kill init" on the console.
# Usage: poweroff.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_boot --busybox --file "$QT_GUEST/poweroff.sh:/test.sh" \
  --append 'keel.run="/bin/sh /test.sh"'
qt_expect "$QT_READY_RE" 60
qt_expect 'POWEROFF: calling keel poweroff' 30
qt_finish 0
qt_reject 'Kernel panic'
qt_reject 'Attempted to kill init'
