#!/usr/bin/env bash
# rootfs_persist: what one boot writes to /etc, /var and /home is there on the
# next boot of the same disk, and the machine-id stays the same.
# Usage: rootfs_persist.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_mkimage --busybox --file "$QT_GUEST/rootfs.sh:/rootfs.sh"
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /rootfs.sh write"'
qt_expect 'new machine-id [0-9a-f]{32}' 60
qt_expect 'ROOTFS: PASS' 60
qt_finish 0
first_id=$(qt_value MACHINE_ID)
[ -n "$first_id" ] || qt_fail "the first boot printed no MACHINE_ID"

qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /rootfs.sh check"'
qt_expect 'ROOTFS: PASS' 60
qt_finish 0
qt_reject 'new machine-id'
second_id=$(qt_value MACHINE_ID)
[ "$first_id" = "$second_id" ] ||
  qt_fail "machine-id changed across the reboot: $first_id, then $second_id"
echo "$QT_NAME: machine-id $first_id on both boots"
