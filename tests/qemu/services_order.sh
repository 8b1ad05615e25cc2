#!/usr/bin/env bash
# services_order: units without an order between them start together; a unit After= both waits for both.
# Usage: services_order.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=services_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/services_lib.sh"
qt_init "$@"

svc_boot order_check.sh order_a.service order_b.service order_c.service
qt_expect "$QT_READY_RE" 60
qt_expect 'SERVICES_ORDER: PASS' 40
qt_finish 0
