#!/usr/bin/env bash
# services_watchdog: WatchdogSec=: a service that stops sending WATCHDOG=1 is killed with SIGABRT and restarted.
# Usage: services_watchdog.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=services_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/services_lib.sh"
qt_init "$@"

svc_boot watchdog_check.sh dog.service
qt_expect "$QT_READY_RE" 60
qt_expect 'dog.service: watchdog timeout \(limit 2 s\), killing it with SIGABRT' 30
qt_expect 'SERVICES_WATCHDOG: PASS' 30
qt_finish 0
