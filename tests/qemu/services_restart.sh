#!/usr/bin/env bash
# services_restart: a crashing service restarts RestartSec= apart and stops at its start limit.
# Usage: services_restart.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=services_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/services_lib.sh"
qt_init "$@"

svc_boot restart_check.sh crash.service
qt_expect "$QT_READY_RE" 60
qt_expect 'crash.service: exited with status 3, restarting in 1 s' 30
qt_expect 'crash.service: start request repeated too quickly' 30
qt_expect 'SERVICES_RESTART: PASS' 30
qt_finish 0
