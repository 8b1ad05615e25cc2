#!/usr/bin/env bash
# units: a *.service file in /etc/keel/units, enabled in multi-user.target, is
# started after ready.
# Usage: units.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_boot --busybox --unit "$QT_GUEST/hello.service" --file "$QT_GUEST/unit.sh:/unit.sh" \
  --file "$QT_GUEST/hello.service:/etc/keel/units/multi-user.target.wants/hello.service"
qt_expect "$QT_READY_RE" 60
qt_expect 'UNITS: PASS' 30
qt_finish 0
