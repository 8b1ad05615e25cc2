#!/usr/bin/env bash
# boot_ready: keel boots as PID 1, reports ready, and a keel.run command
# (`keel poweroff`, no shell involved) powers the guest off cleanly.
# Usage: boot_ready.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_boot --append 'keel.run="/bin/keel poweroff"'
qt_expect "$QT_READY_RE" 60
qt_finish 0
