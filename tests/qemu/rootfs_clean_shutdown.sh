#!/usr/bin/env bash
# rootfs_clean_shutdown: poweroff, reboot and halt each leave STATE's ext4
# clean, even with a service that ignores SIGTERM holding a file on /var, a
# stray process holding one on /home, and a loop device keeping the /etc
# overlay busy; the next boot needs no ext4 recovery, and the journal on
# disk holds the last boot to its last line.
# Usage: rootfs_clean_shutdown.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

export PATH="$PATH:/usr/sbin:/sbin"
qt_mkimage --busybox --initramfs-module loop \
  --file "$QT_GUEST/clean_shutdown.sh:/clean_shutdown.sh" \
  --unit "$QT_GUEST/holder.service" \
  --file "$QT_GUEST/holder.service:/etc/keel/units/multi-user.target.wants/holder.service"
for tool in dumpe2fs e2fsck; do
  command -v "$tool" >/dev/null || qt_fail "$tool is missing (e2fsprogs, which tools/mkimage needs too)"
done

# state_clean WHAT: STATE's ext4, read from the disk image after the guest
# ended, is marked clean, has no journal to replay and passes e2fsck.
state_clean() {
  local info first last image=$QT_WORK/images/$QT_NAME/state.img header
  info=$(sgdisk -i 3 "$QT_DISK")
  first=$(sed -n 's/^First sector: \([0-9]*\).*/\1/p' <<<"$info")
  last=$(sed -n 's/^Last sector: \([0-9]*\).*/\1/p' <<<"$info")
  [ -n "$first" ] && [ -n "$last" ] || qt_fail "sgdisk -i 3 shows no STATE partition: $info"
  dd if="$QT_DISK" of="$image" bs=512 skip="$first" count=$((last - first + 1)) status=none
  header=$(dumpe2fs -h "$image" 2>/dev/null)
  grep -Eq '^Filesystem state: +clean$' <<<"$header" ||
    qt_fail "after $1, STATE is not clean: $(grep '^Filesystem state:' <<<"$header")"
  if grep -Eq '^Filesystem features:.* needs_recovery( |$)' <<<"$header"; then
    qt_fail "after $1, STATE's ext4 journal needs recovery"
  fi
  e2fsck -fn "$image" >"$image.fsck" 2>&1 || qt_fail "after $1, e2fsck finds errors on STATE: $(cat "$image.fsck")"
  echo "$QT_NAME: STATE is clean after $1"
}

boot() {
  qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append keel.stop_timeout=2 \
    --append "keel.run=\"/bin/sh /clean_shutdown.sh $*\""
}

boot busy
qt_expect 'CLEAN: busy, powering off' 60
qt_expect 'holder.service: did not stop within 2 s, sending SIGKILL' 30
qt_expect 'processes still running after 2000 ms; sending SIGKILL' 30
qt_expect '`/etc` stays mounted, read-only: loop0 is backed by /etc/loop.img' 30
qt_finish 0
qt_reject 'stays writable|stays mounted and writable'
state_clean "a poweroff with /var, /home and /etc busy"

shutdowns=1 last=poweroff
for next in reboot halt poweroff; do
  qt_log_restart
  boot check "$shutdowns" "$last" "$next"
  qt_expect 'CLEAN: the journal holds the last boot to its end' 60
  case "$next" in
    poweroff) qt_finish 0 ;;
    reboot) qt_finish 4 ;;
    halt) qt_finish 5 ;;
  esac
  qt_reject 'EXT4-fs \([a-z0-9]+\): recovery complete'
  qt_reject 'stays mounted'
  state_clean "a $next"
  shutdowns=$((shutdowns + 1)) last=$next
done
