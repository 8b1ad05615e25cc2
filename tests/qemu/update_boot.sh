#!/usr/bin/env bash
# update_boot: keel in the initramfs boots the A/B slot ChromeOS's rules pick,
# counting a try on the disk before the root is mounted. ROOT-B holds a copy
# of ROOT-A and is activated from the host (`keel update activate --disk`):
#   1. B boots, its one try used;   2. not marked good: A boots by itself;
#   3. B again, marked good in the guest (`keel update mark-good`);
#   4. B boots without using a try; 5. neither slot bootable (cgpt): a clear
#   message, and keel stays up in the initramfs for repair (no power-off loop).
# Usage: update_boot.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

qt_mkimage --busybox --file "$QT_GUEST/slots.sh:/slots.sh"
export PATH="$PATH:/usr/sbin:/sbin"

# ROOT-B := ROOT-A (same size, made so by tools/mkimage).
qt_copy_root_a_to_b

host_update() { "$QT_KEEL" update "$@" --disk "$QT_DISK" || qt_fail "keel update $* on the host failed"; }
# slot_row SLOT PRIORITY TRIES SUCCESSFUL STATE: the status table's row, as a regex.
slot_row() { echo "$1 +ROOT-$1 +[0-9]+ +$2 +$3 +$4 +$5"; }

host_update activate B
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /slots.sh"'
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=1 successful=0, one try used: 0 left' 60
qt_expect "$(slot_row B 2 0 no 'booted, cannot boot')" 60
qt_expect 'SLOTS: PASS' 30
qt_finish 0

# Never marked good: out of tries, so A boots without anyone's help.
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /slots.sh"'
qt_expect 'slot A \(ROOT-A\) of /dev/vda: priority=1 tries=0 successful=1$' 60
qt_expect "$(slot_row A 1 0 yes 'booted, boots next')" 60
qt_expect "$(slot_row B 2 0 no 'cannot boot')" 10
qt_finish 0

host_update activate B
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /slots.sh good"'
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=1 successful=0, one try used: 0 left' 60
qt_expect 'slot B marked good \(priority=2 tries=0 successful=1\)' 60
qt_expect 'SLOTS: PASS' 30
qt_finish 0

qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /slots.sh"'
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=0 successful=1$' 60
qt_expect "$(slot_row B 2 0 yes 'booted, boots next')" 60
qt_finish 0

if command -v cgpt >/dev/null; then
  cgpt add -i 1 -P 0 "$QT_DISK" && cgpt add -i 2 -P 0 "$QT_DISK" || qt_fail "cgpt could not clear the priorities"
  qt_log_restart
  KEEL_QEMU_TIMEOUT=30 qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /slots.sh"'
  qt_expect 'no slot of /dev/vda can boot: A priority=0 tries=0 successful=1, B priority=0 tries=0 successful=1: staying in the initramfs for repair' 60
  qt_expect "$QT_READY_RE" 30
  qt_reject 'cannot boot from disk'
  qt_reject 'SLOTS: PASS'
else
  echo "SKIP (part): cgpt is not installed; the no-bootable-slot boot is not tested"
fi
echo "PASS: $QT_NAME"
