#!/usr/bin/env bash
# update_power_cut: the power cut (SIGKILL of QEMU: no shutdown, the guest's
# unsynced writes lost) in the middle of an install and of slot-flag
# writes, on a disk made by tools/mkimage --sign-key (ROOT-A 1.0.0 signed,
# keys in the initramfs); the 2.0.0 payload (with 56 MiB of random bytes,
# so that the install saves its progress at 32 MiB) on a second disk.
#   a. `keel update install` into B is cut once its progress file says
#      32 MiB or more are written: A boots, B cannot boot; the install run
#      again resumes (from no less than that) and completes; after
#      `activate B` and a reboot B boots through dm-verity and is marked
#      good.
#   b. A guest loop activating B then A, over and over, is cut 4 times at
#      staggered delays. After each cut the host checks the disk with
#      cgpt and `sgdisk -v` (both GPT copies valid, or a damaged one that
#      keel repairs on the next boot), then boots it: a slot boots (through
#      dm-verity: each has its signed footer) and the next loop runs there.
#      A last clean boot leaves both copies valid.
# Usage: update_power_cut.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"
export PATH="$PATH:/usr/sbin:/sbin"
for tool in openssl:openssl cgpt:cgpt sgdisk:gdisk; do
  if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
    echo "SKIP: ${tool%%:*} is not installed (${tool##*:})"
    exit 77
  fi
done

qt_update_dirs
keys=$QT_KEYS payloads=$QT_PAYLOADS
# Random bytes: erofs cannot make them smaller.
head -c $((56 << 20)) /dev/urandom >"$keys/ballast" || qt_fail "cannot write the ballast file"
qt_mkimage --busybox --hostname keel-b --file "$keys/ballast:/usr/share/ballast" \
  --file "$QT_GUEST/power_cut.sh:/power_cut.sh" \
  --sign-key "$keys/update.key" --version 2.0.0 --payload-output "$payloads/keel-b"
image_bytes=$(stat -c %s "$payloads/keel-b/root.img")
# A's slots hold B's image and its footer (1 MiB), with room to spare.
qt_mkimage --busybox --hostname keel-a --file "$QT_GUEST/power_cut.sh:/power_cut.sh" \
  --sign-key "$keys/update.key" --version 1.0.0 --root-size $((image_bytes / 1048576 + 4))
qt_payload_disk
payload_disk=$QT_PAYLOAD_DISK
echo "$QT_NAME: payload 2.0.0: $image_bytes bytes"

slot_row() { echo "$1 +ROOT-$1 +[0-9]+ +$2 +$3 +$4 +$5"; }
boot() { qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --disk "$payload_disk" --append "keel.run=\"/bin/sh /power_cut.sh $*\""; }
# The GPT as Debian's tools see it: "valid", or what is wrong.
gpt_check() {
  local shown verified
  shown=$(cgpt show "$QT_DISK" 2>&1) || { echo "cgpt show failed: $shown"; return; }
  verified=$(sgdisk -v "$QT_DISK" 2>&1) || true
  if grep -qi 'invalid' <<<"$shown"; then
    echo "cgpt: $(grep -i invalid <<<"$shown" | head -n 3 | tr '\n' ' ')"
  elif ! grep -q '^No problems found' <<<"$verified" || grep -Eqi 'error|caution|warning|corrupt' <<<"$verified"; then
    echo "sgdisk -v: $(grep -Ei 'error|caution|warning|corrupt|problem' <<<"$verified" | head -n 4 | tr '\n' ' ')"
  else
    echo valid
  fi
}

# ---- a. a power cut in the middle of an install ----------------------------
boot install:keel-b
qt_expect 'POWERCUT: running keel-a' 90
# The file is written every 32 MiB: its first value is the first checkpoint.
qt_expect 'POWERCUT: progress verified_bytes=[0-9]+' 120
qt_power_cut
cut_at=$(qt_value verified_bytes)
echo "$QT_NAME: round a: the power cut during the install, its progress file at $cut_at bytes of $image_bytes"
qt_reject 'installed 2.0.0'
qt_reject 'POWERCUT: FAIL'

qt_log_restart
boot install:keel-b activate:B status
qt_expect 'slot A \(ROOT-A\) of /dev/vda: priority=1 tries=0 successful=1$' 90
qt_expect 'root ROOT-A verified by dm-verity' 30
qt_expect "$(slot_row B 0 0 no 'cannot boot')" 60
qt_expect 'resumed at byte [0-9]+' 180
resumed=$(tr -d '\r' <"$QT_LOG" | sed -n 's/^.*resumed at byte \([0-9]*\).*$/\1/p' | head -n 1)
[ "$resumed" -ge "$cut_at" ] || qt_fail "the install resumed at byte $resumed, before the $cut_at bytes its progress file said"
qt_expect 'installed 2.0.0 into slot B \(ROOT-B\) of /dev/vda, signed by key [0-9a-f]+; it boots next: priority=2 tries=1 successful=0' 120
qt_expect 'slot B boots next' 30
qt_expect 'POWERCUT: PASS' 30
qt_reject 'POWERCUT: FAIL'
qt_finish 0
echo "$QT_NAME: round a: A booted, B not bootable; the install resumed at byte $resumed and completed"

# B boots (its try used), through dm-verity, is marked good; then round b's
# first loop runs there.
qt_log_restart
boot good flags:200
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=1 successful=0, one try used: 0 left' 90
qt_expect 'root ROOT-B verified by dm-verity' 30
qt_expect 'POWERCUT: running keel-b' 60
qt_expect 'slot B marked good' 30
echo "$QT_NAME: round a: B booted through dm-verity and was marked good"

# ---- b. power cuts in the middle of slot-flag writes -----------------------
delays=(0.4 1.1 1.9 2.8)
for cut in 1 2 3 4; do
  qt_expect 'POWERCUT: flags loop started' 60
  sleep "${delays[cut - 1]}"
  qt_power_cut
  qt_reject 'POWERCUT: flags loop ended'
  # The last write begun, or the last one done ("slot X boots next" comes
  # after both copies are synced: X must boot).
  last=$(tr -d '\r' <"$QT_LOG" | grep -Eo 'POWERCUT: round [0-9]+: activate [AB]|^slot [AB] boots next' | tail -n 1)
  must_boot=""
  [[ "$last" != slot* ]] || must_boot=${last:5:1}
  gpt=$(gpt_check)
  echo "$QT_NAME: round b.$cut: cut ${delays[cut - 1]} s into the loop, after /${last#POWERCUT: }/; the GPT: $gpt"
  qt_reject 'POWERCUT: FAIL'
  qt_log_restart
  if [ "$cut" -lt 4 ]; then boot flags:200; else boot good status; fi
  qt_expect 'slot [AB] \(ROOT-[AB]\) of /dev/vda: priority=[0-9]+ tries=0 successful=1($|; the GPT)' 90
  qt_expect 'root ROOT-[AB] verified by dm-verity' 30
  qt_expect 'POWERCUT: running keel-[ab]' 60
  booted=$(tr -d '\r' <"$QT_LOG" | sed -n 's/^.*slot \([AB]\) (ROOT-[AB]) of \/dev\/vda: .*$/\1/p' | head -n 1)
  if [ "$gpt" = valid ]; then
    qt_reject 'has been rewritten from the'
  else
    # The initramfs rewrites the copy before it mounts the root.
    qt_expect "slot $booted \\(ROOT-$booted\\) of /dev/vda: .*; the GPT's (backup|primary) copy was damaged or stale and has been rewritten from the (primary|backup)" 5
  fi
  qt_expect 'disk /dev/vda \(GPT copies intact: both\)' 30
  [ -z "$must_boot" ] || [ "$booted" = "$must_boot" ] ||
    qt_fail "slot $booted booted, but the last write done before the cut made $must_boot boot next"
  echo "$QT_NAME: round b.$cut: slot $booted booted${must_boot:+ (the last write done made it boot next)}"
done
qt_expect 'POWERCUT: PASS' 60
qt_reject 'POWERCUT: FAIL'
qt_finish 0
gpt=$(gpt_check)
[ "$gpt" = valid ] || qt_fail "after a clean power-off the GPT is not valid: $gpt"
echo "$QT_NAME: after the last clean boot the GPT is valid (cgpt, sgdisk -v)"
echo "$QT_NAME: $SECONDS s in all (images made, seven boots)"
echo "PASS: $QT_NAME"
