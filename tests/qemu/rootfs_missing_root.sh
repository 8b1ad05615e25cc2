#!/usr/bin/env bash
# rootfs_missing_root: keel.root= names a partition that does not exist: after
# keel.rootwait= seconds keel says what it looked for and which block devices
# there are, then powers off cleanly (no panic, never ready).
# Usage: rootfs_missing_root.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

# shellcheck disable=SC2119 # no options: the boot never gets to a workload
qt_mkimage
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.root=PARTLABEL=NOPE keel.rootwait=2'
qt_expect 'waiting up to 2 s for PARTLABEL=NOPE' 60
qt_expect 'no block device with PARTLABEL=NOPE after 2\.[0-9]+ s; block devices: .*vda1 \(partition 1 of vda, PARTLABEL=ROOT-A\)' 30
qt_expect 'cannot boot from disk: .*; powering off' 10
qt_finish 0
qt_reject "$QT_READY_RE"
