#!/usr/bin/env bash
# services_notify: a Type=notify service holds back what is ordered after it until READY=1 (sent with keel notify).
# Usage: services_notify.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=services_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/services_lib.sh"
qt_init "$@"

svc_boot notify_check.sh ready.service gated.service
qt_expect "$QT_READY_RE" 60
qt_expect 'SERVICES_NOTIFY: PASS' 40
qt_finish 0
