#!/usr/bin/env bash
# update_unverified: nothing unverified boots on a machine that trusts
# update keys. The disk is made by tools/mkimage --sign-key (ROOT-A signed,
# with its footer; the key in the initramfs's /etc/keel/trusted.d); ROOT-B
# is a copy of ROOT-A with its footer zeroed: the same good root, but no
# signed manifest. B is activated (priority 2, one try):
#   1. B is chosen, its try counted, then refused (no signed manifest while
#      keys are trusted): marked bad, a reboot;
#   2. A boots by itself, through dm-verity; the host sees B cannot boot;
#   3. keel.root=PARTLABEL=ROOT-B, the operator's bypass, mounts B as it
#      is (without dm-verity), and says so.
# Usage: update_unverified.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"
export PATH="$PATH:/usr/sbin:/sbin"
for tool in openssl:openssl cgpt:cgpt; do
  if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
    echo "SKIP: ${tool%%:*} is not installed (${tool##*:})"
    exit 77
  fi
done

keys=$QT_WORK/images/$QT_NAME-keys
rm -rf -- "$keys"
mkdir -p "$keys"
openssl ecparam -name prime256v1 -genkey -noout -out "$keys/update.key" 2>/dev/null ||
  qt_fail "openssl could not make a key"
qt_mkimage --busybox --file "$QT_GUEST/slots.sh:/slots.sh" --sign-key "$keys/update.key" --version 1.0.0

qt_copy_root_a_to_b
# B's last MiB (its footer) zeroed.
b=$(sgdisk -i 2 "$QT_DISK" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
n=$(sgdisk -i 2 "$QT_DISK" | sed -n 's/^Partition size: \([0-9]*\) sectors.*/\1/p')
dd if=/dev/zero of="$QT_DISK" bs=1M count=1 oflag=seek_bytes conv=notrunc status=none \
  seek=$(((b + n) * 512 - 1048576)) || qt_fail "cannot zero ROOT-B's footer"
cgpt add -i 1 -P 1 -T 0 -S 1 "$QT_DISK" && cgpt add -i 2 -P 2 -T 1 -S 0 "$QT_DISK" ||
  qt_fail "cgpt could not set the slots' flags"

slot_row() { echo "$1 +ROOT-$1 +[0-9]+ +$2 +$3 +$4"; }

# 1.
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /slots.sh"'
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=1 successful=0, one try used: 0 left' 90
# shellcheck disable=SC2016 # the backquotes are keel's, in the message
qt_expect 'slot ROOT-B \(/dev/vda2\) does not boot: .*`/dev/vda2` has no signed manifest \(no slot footer\), and 1 trusted update key\(s\) in `/etc/keel/trusted.d` require one: not booted without dm-verity' 60
qt_expect 'slot ROOT-B of /dev/vda marked bad; rebooting into the other slot' 30
qt_finish 4
qt_reject 'SLOTS: PASS'
grep -Eq "$(slot_row B 0 0 no)" < <(qt_slot_status) || qt_fail "ROOT-B is not marked bad: $(qt_slot_status)"

# 2.
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /slots.sh"'
qt_expect 'slot A \(ROOT-A\) of /dev/vda: priority=1 tries=0 successful=1$' 90
qt_expect 'root ROOT-A verified by dm-verity \(root hash [0-9a-f]{16}… from the slot.s manifest \(1.0.0\)' 30
qt_expect "$(slot_row A 1 0 yes) +booted, boots next" 60
qt_expect 'SLOTS: PASS' 30
qt_finish 0

# 3.
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.root=PARTLABEL=ROOT-B keel.run="/bin/sh /slots.sh"'
qt_expect 'has no signed manifest \(no slot footer\).*; mounted without dm-verity, as keel.root= names it' 90
qt_expect "$(slot_row B 0 0 no) +booted" 60
qt_expect 'SLOTS: PASS' 30
qt_finish 0
qt_reject 'verified by dm-verity'
echo "PASS: $QT_NAME"
