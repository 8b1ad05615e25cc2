#!/usr/bin/env bash
# update_kexec: A/B kernels and reboots without the firmware. ROOT-B is a
# copy of ROOT-A that carries its own kernel and initramfs in /boot
# (tools/mkimage --slot-kernel), activated with two tries. One QEMU run
# (-no-reboot: a firmware reset would end it), four kernels:
#   1. firmware boot: keel in the initramfs picks B, counts a try (1 left),
#      and kexecs into B's /boot/vmlinuz with keel.kexec=B;
#   2. B's kernel: its initramfs boots B as it is, no second try counted;
#      `keel reboot --kexec --kernel /etc/hostname` is refused and the
#      machine stays up; `keel reboot --kexec` shuts down cleanly and
#      starts the kernel again (keel.test.second=1 added);
#   3. the initramfs picks B again (a real boot: 0 tries left), kexec;
#   4. B's kernel with keel.kexec=B and keel.test.second=1: power off.
# "Linux version" four times in one QEMU run, the tries read with cgpt.
# Usage: update_kexec.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"
export PATH="$PATH:/usr/sbin:/sbin"

# The guest needs no debug info; without it the initramfs the slot carries
# (keel again) is small enough to load twice into the guest's memory.
mkdir -p "$QT_WORK/images"
keel_small=$QT_WORK/images/$QT_NAME.keel
objcopy --strip-debug -- "$QT_KEEL" "$keel_small" || qt_fail "objcopy --strip-debug $QT_KEEL failed"
QT_KEEL=$keel_small
qt_mkimage --busybox --slot-kernel --file "$QT_GUEST/kexec.sh:/kexec.sh"

# ROOT-B := ROOT-A, then priority 2, tries 2 (bits 49 and 53), not successful.
first_sector() { sgdisk -i "$1" "$QT_DISK" | sed -n 's/^First sector: \([0-9]*\).*/\1/p'; }
sectors_of() { sgdisk -i "$1" "$QT_DISK" | sed -n 's/^Partition size: \([0-9]*\) sectors.*/\1/p'; }
a=$(first_sector 1) b=$(first_sector 2) n=$(sectors_of 1)
[ -n "$a" ] && [ -n "$b" ] && [ "$n" = "$(sectors_of 2)" ] || qt_fail "ROOT-A and ROOT-B differ: $(sgdisk -p "$QT_DISK")"
dd if="$QT_DISK" of="$QT_DISK" bs=1M iflag=skip_bytes,count_bytes oflag=seek_bytes conv=notrunc status=none \
  skip=$((a * 512)) seek=$((b * 512)) count=$((n * 512)) || qt_fail "copying ROOT-A to ROOT-B failed"
sgdisk -A 2:set:49 -A 2:set:53 "$QT_DISK" >/dev/null || qt_fail "sgdisk could not set B's flags"
grep -Eq '^B +ROOT-B +2 +2 +2 +no' < <(qt_slot_status) ||
  qt_fail "B is not priority 2, tries 2: $(qt_slot_status)"

KEEL_QEMU_TIMEOUT=${KEEL_QEMU_TIMEOUT:-480} qt_boot --memory 1024 --initrd "$QT_INITRD" \
  --disk "$QT_DISK" --append 'keel.run="/bin/sh /kexec.sh"'
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=2 successful=0, one try used: 1 left' 90
qt_expect 'slot B has its own kernel: starting /boot/vmlinuz .* with kexec' 60
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=1 successful=0, in its own kernel \(keel.kexec=B\)' 120
qt_expect 'KEXEC: cmdline=.*keel.kexec=B' 90
qt_expect 'B +ROOT-B +2 +2 +1 +no +booted' 30
qt_expect 'KEXEC: bad kernel refused: .*/etc/hostname.*not a kernel image the running kernel can start' 30
qt_expect 'KEXEC: still up' 30
qt_expect 'keel: kexec requested by pid' 30
qt_expect 'keel: system kexec' 60
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=1 successful=0, one try used: 0 left' 120
qt_expect 'KEXEC: cmdline=.*keel.test.second=1' 180
qt_expect 'B +ROOT-B +2 +2 +0 +no +booted' 30
qt_expect 'KEXEC: PASS' 30
qt_finish 0

kernels=$(tr -d '\r' <"$QT_LOG" | grep -c 'Linux version')
[ "$kernels" -eq 4 ] || qt_fail "expected 4 kernel starts in one QEMU run, saw $kernels"
firmware=$(tr -d '\r' <"$QT_LOG" | grep -c 'SeaBIOS' || true)
[ "$firmware" -le 1 ] || qt_fail "the firmware ran $firmware times"
qt_reject 'reboot: Restarting system'
qt_reject 'kexec failed'
last=$(tr -d '\r' <"$QT_LOG" | grep 'KEXEC: cmdline=' | tail -n 1)
[ "$(grep -o 'keel.kexec=' <<<"$last" | wc -l)" -eq 1 ] || qt_fail "keel.kexec= not exactly once: $last"
echo "$QT_NAME: $kernels kernels, firmware banner $firmware time(s)"

# On the disk (cgpt, the other tool): B's two tries both spent, by the two
# firmware-or-reboot boots; the kexec'd boots spent none.
if command -v cgpt >/dev/null; then
  [ "$(cgpt show -i 2 -T "$QT_DISK")" = 0 ] && [ "$(cgpt show -i 2 -P "$QT_DISK")" = 2 ] &&
    [ "$(cgpt show -i 2 -S "$QT_DISK")" = 0 ] ||
    qt_fail "cgpt: B is priority $(cgpt show -i 2 -P "$QT_DISK") tries $(cgpt show -i 2 -T "$QT_DISK") successful $(cgpt show -i 2 -S "$QT_DISK"), expected 2 0 0"
else
  echo "SKIP (part): cgpt is not installed; B's tries are checked on the console only"
fi
echo "PASS: $QT_NAME"
