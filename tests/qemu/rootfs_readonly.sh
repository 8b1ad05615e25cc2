#!/usr/bin/env bash
# rootfs_readonly: keel boots a GPT disk image from the initramfs: the erofs
# root is read-only (EROFS), /etc is an overlay, /var /home /opt /srv come
# from STATE, the initramfs is freed and keel from the disk runs as PID 1.
# Usage: rootfs_readonly.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_mkimage --busybox --hostname keel-disk --file "$QT_GUEST/rootfs.sh:/rootfs.sh"
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /rootfs.sh readonly"'
qt_expect 'root PARTLABEL=ROOT-A is /dev/vda1' 60
qt_expect 'root /dev/vda1 \(erofs\) mounted read-only' 30
qt_expect 'freed the initramfs: [1-9][0-9]* MiB' 30
qt_expect 'switched root; starting /usr/bin/keel' 30
qt_expect "$QT_READY_RE" 30
qt_expect 'ROOTFS: PASS' 30
qt_finish 0
qt_reject 'free the initramfs:'
qt_reject 'STATE: '
echo "$QT_NAME: $(tr -d '\r' <"$QT_LOG" | grep -Eo 'keel: ready in [0-9.]+ s since kernel start')"
