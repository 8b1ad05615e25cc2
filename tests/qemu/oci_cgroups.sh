#!/usr/bin/env bash
# oci_cgroups: the OCI runtime under keel as PID 1, where cgroup v2 is
# mounted: linux.resources become the container's cgroup files and the
# kernel enforces them (cpu.max throttling, pids.max, OOM kill), update
# changes them, pause/resume freeze it, ps and kill --all
# reach every process, delete removes the group; the root is the initramfs,
# where pivot_root cannot work, so keel enters it with MS_MOVE + chroot.
# Usage: oci_cgroups.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_boot --busybox --file "$QT_GUEST/oci_cgroups.sh:/test.sh" \
  --append 'keel.run="/bin/sh /test.sh"'
qt_expect "$QT_READY_RE" 60
qt_expect 'OCI_CGROUPS: PASS' 180
qt_finish 0
