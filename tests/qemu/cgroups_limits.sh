#!/usr/bin/env bash
# cgroups_limits: MemoryMax=32M, TasksMax=5 and CPUQuota=20% applied through
# `keel cgroup run` are enforced by the kernel's cgroup v2 controllers
# (OOM kill, pids.max, cpu.max throttling); cgroup.kill empties a group; a
# unit file's MemoryHigh=, IOWeight= (and the others) reach memory.high and
# io.weight of its group.
# Usage: cgroups_limits.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_boot --busybox --file "$QT_GUEST/cgroups_limits.sh:/test.sh" \
  --file "$QT_GUEST/cgroups_limits.service:/etc/keel/units/limits.service" \
  --append 'keel.run="/bin/sh /test.sh"'
qt_expect "$QT_READY_RE" 60
qt_expect 'CGROUPS_LIMITS: PASS' 120
qt_finish 0
