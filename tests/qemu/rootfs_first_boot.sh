#!/usr/bin/env bash
# rootfs_first_boot: a disk whose STATE partition is blank (all zeros) gets an
# ext4 filesystem on its first boot, and only then: the second boot keeps it.
# Usage: rootfs_first_boot.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_mkimage --busybox --state blank --file "$QT_GUEST/rootfs.sh:/rootfs.sh"
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /rootfs.sh write"'
qt_expect 'STATE \(/dev/vda3\) is blank: first boot' 60
qt_expect 'made an ext4 filesystem on STATE \(/dev/vda3\)' 30
qt_expect 'ROOTFS: PASS' 60
qt_finish 0

qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /rootfs.sh check"'
qt_expect 'ROOTFS: PASS' 60
qt_finish 0
qt_reject 'is blank: first boot'
qt_reject 'made an ext4 filesystem'
