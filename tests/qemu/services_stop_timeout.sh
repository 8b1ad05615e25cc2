#!/usr/bin/env bash
# services_stop_timeout: a service that ignores SIGTERM is killed after TimeoutStopSec=, and the machine still powers off cleanly.
# Usage: services_stop_timeout.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=services_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/services_lib.sh"
qt_init "$@"

svc_boot stop_timeout_check.sh stubborn.service
qt_expect "$QT_READY_RE" 60
qt_expect 'SERVICES_STOP_TIMEOUT: calling keel poweroff' 40
qt_expect 'stubborn.service: did not stop within 3 s, sending SIGKILL' 20
qt_expect 'Stopped|failed with result .timeout.' 10
qt_finish 0
