#!/usr/bin/env bash
# zombie_storm: 500 orphans reparented to PID 1 exit; none stays a zombie.
# Usage: zombie_storm.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_boot --busybox --file "$QT_GUEST/zombie_storm.sh:/test.sh" \
  --append 'keel.run="/bin/sh /test.sh 500"'
qt_expect "$QT_READY_RE" 60
qt_expect 'ZOMBIE_STORM: PASS' 60
qt_finish 0
