#!/usr/bin/env bash
# rootfs_factory_reset: keel.state=wipe makes STATE anew: what an earlier boot
# wrote to /etc and /var is gone and the machine gets a new machine-id.
# Usage: rootfs_factory_reset.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_mkimage --busybox --file "$QT_GUEST/rootfs.sh:/rootfs.sh"
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /rootfs.sh write"'
qt_expect 'ROOTFS: PASS' 60
qt_finish 0
first_id=$(qt_value MACHINE_ID)
[ -n "$first_id" ] || qt_fail "the first boot printed no MACHINE_ID"

qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" \
  --append 'keel.state=wipe keel.run="/bin/sh /rootfs.sh wiped"'
qt_expect 'keel.state=wipe: factory reset of STATE \(/dev/vda3\)' 60
qt_expect 'made an ext4 filesystem on STATE' 30
qt_expect 'new machine-id [0-9a-f]{32}' 30
qt_expect 'ROOTFS: PASS' 60
qt_finish 0
second_id=$(qt_value MACHINE_ID)
if [ -z "$second_id" ] || [ "$first_id" = "$second_id" ]; then
  qt_fail "machine-id after the reset is '$second_id', before it was $first_id"
fi
echo "$QT_NAME: machine-id $first_id, after the reset $second_id"
