#!/usr/bin/env bash
# update_verity: keel in the initramfs mounts the chosen root slot through
# dm-verity (device-mapper ioctls), with the tree `veritysetup format` made
# (tools/mkimage --verity) and the root hash from keel.verity.root_hash=;
# a slot that dm-verity refuses is marked bad and the machine reboots into
# the other one. ROOT-B is a copy of ROOT-A (its own tree, the same hash):
#   1. A boots through dm-verity: the log line, / on keel-root in mountinfo;
#   2. a wrong root hash: A refused, marked bad, a reboot;
#   3. B boots by itself, through dm-verity;
#   4. a byte flipped on the host in ROOT-A's /usr/bin/keel (A made the
#      first choice again with cgpt): the exec of A's init fails to read,
#      A is marked bad, a reboot; the host sees B boots next.
# Usage: update_verity.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"
export PATH="$PATH:/usr/sbin:/sbin"

for tool in veritysetup:cryptsetup-bin cgpt:cgpt python3:python3; do
  if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
    echo "SKIP: ${tool%%:*} is not installed (${tool##*:})"
    exit 77
  fi
done
qt_mkimage --busybox --verity --file "$QT_GUEST/verity.sh:/verity.sh"
images=$(dirname -- "$QT_DISK")
root_hash=$(cat "$images/root-hash") hash_offset=$(cat "$images/hash-offset")
[ -n "$root_hash" ] && [ -n "$hash_offset" ] || qt_fail "mkimage --verity wrote no root-hash or hash-offset"

# ROOT-B := ROOT-A, tree and all (same size, made so by tools/mkimage).
qt_copy_root_a_to_b
# A first (priority 2), B the known-good fallback (priority 1).
cgpt add -i 1 -P 2 -T 0 -S 1 "$QT_DISK" && cgpt add -i 2 -P 1 -T 0 -S 1 "$QT_DISK" ||
  qt_fail "cgpt could not set the slots' flags"

verity="keel.verity.root_hash=$root_hash keel.verity.hash_offset=$hash_offset"
run() { echo "keel.run=\"/bin/sh /verity.sh $1\""; }
slot_row() { echo "$1 +ROOT-$1 +[0-9]+ +$2 +$3 +$4"; }

# 1. (and the tree veritysetup made is accepted)
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append "$verity $(run A)"
qt_expect "root ROOT-A verified by dm-verity \(root hash ${root_hash:0:16}… from keel.verity.root_hash= on the command line\)" 90
qt_expect 'VERITY: PASS' 60
qt_finish 0

# 2. The last digit of the root hash changed.
last=${root_hash: -1}
wrong=${root_hash:0:63}$([ "$last" = 0 ] && echo 1 || echo 0)
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" \
  --append "keel.verity.root_hash=$wrong keel.verity.hash_offset=$hash_offset $(run A)"
qt_expect 'slot ROOT-A \(/dev/vda1\) does not boot: ' 90
qt_expect 'slot ROOT-A of /dev/vda marked bad; rebooting into the other slot' 30
qt_finish 4
qt_reject 'VERITY: PASS'
grep -Eq "$(slot_row A 0 0 no)" < <(qt_slot_status) || qt_fail "ROOT-A is not marked bad: $(qt_slot_status)"

# 3.
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append "$verity $(run B)"
qt_expect 'slot B \(ROOT-B\) of /dev/vda' 90
qt_expect "root ROOT-B verified by dm-verity \(root hash ${root_hash:0:16}… from keel.verity.root_hash= on the command line\)" 30
qt_expect 'VERITY: PASS' 60
qt_finish 0

# 4. One byte of ROOT-A's /usr/bin/keel (its ELF header's padding, in the
# first block of the file's data) flipped on the disk.
# ROOT-A's place on the disk.
a=$(sgdisk -i 1 "$QT_DISK" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
n=$(sgdisk -i 1 "$QT_DISK" | sed -n 's/^Partition size: \([0-9]*\) sectors.*/\1/p')
python3 - "$QT_DISK" "$QT_KEEL" "$((a * 512))" "$((n * 512))" <<'PY' || qt_fail "cannot flip a byte of /usr/bin/keel in ROOT-A"
import sys
disk, keel, start, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
head = open(keel, "rb").read(4096)
with open(disk, "r+b") as f:
    f.seek(start)
    part = f.read(size)
    at = part.find(head)
    if at < 0 or part.find(head, at + 1) >= 0:
        sys.exit("keel's first block is not in ROOT-A exactly once")
    f.seek(start + at + 9)
    f.write(bytes([head[9] ^ 0xFF]))
print(f"flipped the byte at {start + at + 9} of the disk (ROOT-A + {at + 9})")
PY
cgpt add -i 1 -P 3 -T 0 -S 1 "$QT_DISK" || qt_fail "cgpt could not make ROOT-A the first choice"
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append "$verity $(run A)"
qt_expect "root ROOT-A verified by dm-verity" 90
qt_expect 'slot ROOT-A \(/dev/vda1\) does not boot: .*(Input/output|I/O) error' 60
qt_expect 'slot ROOT-A of /dev/vda marked bad; rebooting into the other slot' 30
qt_finish 4
qt_reject 'VERITY: PASS'
grep -Eq "$(slot_row A 0 0 no)" < <(qt_slot_status) || qt_fail "ROOT-A is not marked bad: $(qt_slot_status)"
grep -Eq "$(slot_row B 1 0 yes) +boots next" < <(qt_slot_status) || qt_fail "ROOT-B does not boot next: $(qt_slot_status)"
echo "PASS: $QT_NAME"
