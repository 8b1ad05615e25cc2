#!/usr/bin/env bash
# container_reboot: containers that come back after a reboot, on a keel
# disk. The first boot imports a busybox image into the store on STATE and
# runs four detached containers under init: always-a (--restart always),
# unless-b (--restart unless-stopped, then `keel container stop`),
# plain-c (--restart no), each writing a line into its own root at every
# start, and web-d (--restart always, httpd on keel's bridge, published on
# 127.0.0.1:8082). The guest reboots (the disk kept). On the second boot
# docker.service (enabled here) runs `keel container start --boot`:
# always-a runs again (its unit active, its root's file has a second line,
# written in the same root), web-d answers on its published port and at
# its bridge address again, unless-b and plain-c stay exited, and keel ps
# says so (nothing from before the reboot claims to run).
# Usage: container_reboot.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

stage=$QT_WORK/stage/$QT_NAME
rm -rf -- "$stage"
mkdir -p -- "$stage/units/multi-user.target.wants"
"$QT_SRC/tools/mkbusybox-image" --output "$stage/busybox.tar" ||
  qt_fail "tools/mkbusybox-image failed"
cp -- "$QT_GUEST/container_units/units/busybox-image.service" "$stage/units/"
ln -s ../busybox-image.service "$stage/units/multi-user.target.wants/busybox-image.service"
# docker.service is the image's own (/usr/lib/keel/units), enabled as
# `keel enable docker.service` enables it.
ln -s /usr/lib/keel/units/docker.service "$stage/units/multi-user.target.wants/docker.service"

# --container-network: the modules of keel's bridge, for web-d.
qt_mkimage --busybox --container-network --state-size 128 \
  --file "$stage/units:/etc/keel/units" \
  --file "$stage/busybox.tar:/usr/share/keel-images/busybox.tar" \
  --file "$QT_GUEST/container_reboot/check.sh:/cr/check.sh" \
  --file "$QT_GUEST/check_lib.sh:/lib/keel-test/check_lib.sh"

KEEL_QEMU_TIMEOUT=${KEEL_QEMU_TIMEOUT:-240} qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" \
  --memory 768 --append 'keel.run="/bin/sh /cr/check.sh first"'
qt_expect "$QT_READY_RE" 90
qt_expect 'CONTAINER_REBOOT: FIRST BOOT DONE' 200
qt_finish 4 # the guest rebooted

qt_log_restart
KEEL_QEMU_TIMEOUT=${KEEL_QEMU_TIMEOUT:-240} qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" \
  --memory 768 --append 'keel.run="/bin/sh /cr/check.sh second"'
qt_expect "$QT_READY_RE" 90
qt_expect 'CONTAINER_REBOOT: PASS' 200
qt_finish 0
