#!/usr/bin/env bash
# The A/B slots against ChromeOS's own tool: disk images partitioned and
# flagged by Debian's cgpt (vboot-utils), read and changed by `keel update`,
# and read back by cgpt (and checked by sgdisk -v). No root, no devices:
# everything is a file in the test's temporary directory.
# usage: update_slots.sh KEEL_BINARY CASE
#   cases: cgpt_flags  status  repair  refusals
set -euo pipefail

keel=$(realpath "$1")
case_name=$2
work=$(mktemp -d /tmp/keel-update-slots.XXXXXX)
trap 'rm -rf -- "$work"' EXIT
export PATH="$PATH:/usr/sbin:/sbin"

fail() { echo "FAIL: $case_name: $*" >&2; exit 1; }
pass() { echo "PASS: $case_name"; }

for tool in cgpt sgdisk python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (apt-get install cgpt gdisk python3)"; exit 77; }
done

img=$work/disk.img
# make_disk A_FLAGS B_FLAGS: ROOT-A, ROOT-B and STATE, flags as cgpt's
# "-P n -T n -S n".
make_disk() {
  rm -f "$img"
  truncate -s 8M "$img"
  cgpt create "$img" 2>/dev/null # it warns that the blank file has no GPT yet
  # shellcheck disable=SC2086
  cgpt add -b 2048 -s 4096 -t rootfs -l ROOT-A $1 "$img"
  # shellcheck disable=SC2086
  cgpt add -b 6144 -s 4096 -t rootfs -l ROOT-B $2 "$img"
  cgpt add -b 10240 -s 4096 -t data -l STATE "$img"
}

# flags N: what cgpt reads for partition N, as "P T S".
flags() { echo "$(cgpt show -i "$1" -P "$img") $(cgpt show -i "$1" -T "$img") $(cgpt show -i "$1" -S "$img")"; }
# json_field FIELD...: a value from `keel update status --json` (python's path).
status_json() { "$keel" update status --disk "$img" --json; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# cgpt and sgdisk find nothing wrong with either copy.
check_both_copies() {
  local shown
  shown=$(cgpt show "$img" 2>&1)
  ! grep -q 'INVALID\|WARNING' <<<"$shown" || fail "cgpt sees a damaged GPT: $shown"
  grep -q 'No problems found' < <(sgdisk -v "$img" 2>&1) || fail "sgdisk -v: $(sgdisk -v "$img" 2>&1)"
}

case $case_name in
cgpt_flags)
  # Flags cgpt wrote are what keel reads; what keel writes cgpt reads.
  make_disk "-P 2 -T 0 -S 1" "-P 3 -T 1 -S 0"
  json=$(status_json) || fail "status: $json"
  [ "$(field 'd["slots"][0]["priority"], d["slots"][0]["tries"], d["slots"][0]["successful"]' <<<"$json")" = "2 0 True" ] \
    || fail "A as keel reads it: $json"
  [ "$(field 'd["slots"][1]["priority"], d["slots"][1]["tries"], d["slots"][1]["successful"]' <<<"$json")" = "3 1 False" ] \
    || fail "B as keel reads it: $json"
  [ "$(field 'd["next"]' <<<"$json")" = B ] || fail "next: $json"
  [ "$(field 'd["slots"][1]["partuuid"]' <<<"$json")" = "$(cgpt show -i 2 -u "$img" | tr A-Z a-z)" ] \
    || fail "B's PARTUUID: $json vs $(cgpt show -i 2 -u "$img")"
  out=$("$keel" update mark-good --disk "$img" B) || fail "mark-good: $out"
  [ "$out" = "slot B marked good (priority=3 tries=0 successful=1)" ] || fail "mark-good said: $out"
  [ "$(flags 2)" = "3 0 1" ] || fail "cgpt reads B as $(flags 2) after mark-good"
  [ "$(flags 1)" = "2 0 1" ] || fail "cgpt reads A as $(flags 1) after mark-good"
  "$keel" update rollback --disk "$img" B >"$work/out" || fail "rollback: $(cat "$work/out")"
  [ "$(flags 1)" = "4 0 1" ] || fail "cgpt reads A as $(flags 1) after rollback"
  [ "$(field 'd["next"]' <<<"$(status_json)")" = A ] || fail "A does not boot next after rollback"
  "$keel" update mark-bad --disk "$img" A >"$work/out" || fail "mark-bad: $(cat "$work/out")"
  [ "$(flags 1)" = "0 0 0" ] || fail "cgpt reads A as $(flags 1) after mark-bad"
  # cgpt's other attribute bits and the rest of the table are untouched.
  [ "$(cgpt show -i 3 -l "$img")" = STATE ] || fail "STATE's label: $(cgpt show -i 3 -l "$img")"
  check_both_copies
  # And keel reads what cgpt writes over keel's work.
  cgpt add -i 1 -P 7 -T 2 -S 0 "$img"
  [ "$(field 'd["slots"][0]["priority"], d["slots"][0]["tries"]' <<<"$(status_json)")" = "7 2" ] \
    || fail "keel reads A as $(status_json)"
  pass ;;

status)
  # The table for people: flags, which slot boots next, which cannot boot.
  make_disk "-P 1 -T 0 -S 1" "-P 0 -T 0 -S 0"
  out=$("$keel" update status --disk "$img") || fail "status: $out"
  expected="disk $img (GPT copies intact: both)
SLOT LABEL  PARTITION PRIORITY TRIES SUCCESSFUL STATE
A    ROOT-A 1         1        0     yes        boots next
B    ROOT-B 2         0        0     no         cannot boot"
  [ "$out" = "$expected" ] || fail "status printed:
$out
expected:
$expected"
  # Not an A/B disk: the error names what is missing.
  truncate -s 8M "$work/plain.img"
  cgpt create "$work/plain.img" 2>/dev/null
  cgpt add -b 2048 -s 4096 -t data -l ROOT-A "$work/plain.img"
  "$keel" update status --disk "$work/plain.img" 2>"$work/err" && fail "a disk without ROOT-B was accepted"
  grep -q 'no partition is named ROOT-B: not an A/B disk' "$work/err" || fail "error: $(cat "$work/err")"
  pass ;;

repair)
  # A damaged primary is read through the backup and rebuilt by the next
  # change; likewise a damaged backup.
  make_disk "-P 2 -T 0 -S 1" "-P 3 -T 1 -S 0"
  dd if=/dev/zero of="$img" bs=512 seek=1 count=1 conv=notrunc status=none
  grep -q INVALID < <(cgpt show "$img") || fail "cgpt does not see the damage this test made"
  [ "$(field 'd["gpt"]' <<<"$(status_json)")" = "backup only" ] || fail "status: $(status_json)"
  out=$("$keel" update mark-good --disk "$img" B) || fail "mark-good: $out"
  grep -q "primary copy was damaged and has been rewritten from the backup" <<<"$out" || fail "mark-good said: $out"
  check_both_copies
  [ "$(flags 2)" = "3 0 1" ] || fail "cgpt reads B as $(flags 2)"
  # The backup's entry array this time (the last 33 sectors hold it and its header).
  sectors=$(( $(stat -c %s "$img") / 512 ))
  printf 'x' | dd of="$img" bs=1 seek=$(( (sectors - 33) * 512 + 100 )) conv=notrunc status=none
  [ "$(field 'd["gpt"]' <<<"$(status_json)")" = "primary only" ] || fail "status: $(status_json)"
  out=$("$keel" update rollback --disk "$img" B) || fail "rollback: $out"
  grep -q "backup copy was damaged and has been rewritten from the primary" <<<"$out" || fail "rollback said: $out"
  check_both_copies
  [ "$(flags 1)" = "4 0 1" ] || fail "cgpt reads A as $(flags 1)"
  pass ;;

refusals)
  # A change that would leave nothing bootable, a slot never known good as
  # a rollback target, a damaged pair, a bad SLOT: refused, disk unchanged.
  make_disk "-P 1 -T 0 -S 1" "-P 2 -T 1 -S 0"
  before=$(sha256sum <"$img")
  "$keel" update rollback --disk "$img" A 2>"$work/err" && fail "rollback to B (never successful) was accepted"
  grep -q 'slot B (ROOT-B) has not booted successfully (priority=2 tries=1 successful=0): nothing to roll back to' "$work/err" \
    || fail "rollback error: $(cat "$work/err")"
  cgpt add -i 2 -P 2 -T 0 -S 0 "$img"
  before=$(sha256sum <"$img")
  "$keel" update mark-bad --disk "$img" A 2>"$work/err" && fail "mark-bad of the only bootable slot was accepted"
  grep -q 'slot B (ROOT-B) cannot boot either' "$work/err" || fail "mark-bad error: $(cat "$work/err")"
  status=0
  "$keel" update mark-good --disk "$img" C 2>"$work/err" || status=$?
  [ "$status" = 2 ] || fail "a bad SLOT gave status $status"
  grep -q 'SLOT: expected A or B, got `C`' "$work/err" || fail "bad SLOT error: $(cat "$work/err")"
  [ "$(sha256sum <"$img")" = "$before" ] || fail "a refused change wrote to the disk"
  dd if=/dev/zero of="$img" bs=512 seek=1 count=1 conv=notrunc status=none
  sectors=$(( $(stat -c %s "$img") / 512 ))
  dd if=/dev/zero of="$img" bs=512 seek=$(( sectors - 1 )) count=1 conv=notrunc status=none
  before=$(sha256sum <"$img")
  "$keel" update mark-good --disk "$img" A 2>"$work/err" && fail "a disk with both GPT copies damaged was written"
  grep -q 'primary: GPT header at LBA 1: no `EFI PART` signature; backup: GPT header at LBA [0-9]*: no `EFI PART` signature' "$work/err" \
    || fail "damaged pair error: $(cat "$work/err")"
  [ "$(sha256sum <"$img")" = "$before" ] || fail "the damaged pair was rewritten"
  pass ;;

*)
  echo "unknown case $case_name" >&2
  exit 2 ;;
esac
