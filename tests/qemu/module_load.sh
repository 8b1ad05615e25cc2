#!/usr/bin/env bash
# module_load: keel.modules=ext4,overlay loads ext4 with its dependencies
# (jbd2, mbcache, crc16) and overlay, which is stored xz-compressed.
# Usage: module_load.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_boot --busybox --module ext4 --module overlay --compress-module overlay=xz \
  --file "$QT_GUEST/module_load.sh:/test.sh" \
  --append keel.modules=ext4,overlay --append 'keel.run="/bin/sh /test.sh"'
qt_expect "$QT_READY_RE" 60
qt_expect 'MODULE_LOAD: PASS' 30
qt_finish 0
