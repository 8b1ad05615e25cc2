#!/usr/bin/env bash
# run_detached: `keel run -d` without init's control socket under keel as
# PID 1, where cgroup v2 is mounted: the container's keeper records its end
# after keel run has returned, a memory hog under -m as OOMKilled (ps -a
# `Exited (137) OOM-killed`, inspect State.OOMKilled) and a plain exit as
# its code. The host tests cover the rest; a host here has no cgroup v2.
# Usage: run_detached.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_boot --busybox --file "$QT_GUEST/run_detached.sh:/test.sh" \
  --append 'keel.run="/bin/sh /test.sh"'
qt_expect "$QT_READY_RE" 60
qt_expect 'RUN_DETACHED: PASS' 180
qt_finish 0
