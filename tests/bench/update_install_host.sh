#!/usr/bin/env bash
# Benchmark, host side of tests/bench/update_install.sh: `keel update
# install` (signature, every chunk's SHA-256 checked before it is written,
# the slot read back and checked, footer and GPT flags) against `dd` of the
# same image to the same partition (conv=fsync), alternating, on a loop
# device over a GPT disk image in /tmp (ROOT-A, ROOT-B, STATE; detached and
# removed at the end). Then SHA-256 throughput: `keel sha256` against
# coreutils' `sha256sum` on the same (cached) image. Prints each run, the
# medians (wall clock, and user CPU time, which a loaded machine skews
# less), keel's throughput as a fraction of dd's, the SHA-256 engine keel
# used and the load average: a benchmark, not an assertion. Needs root
# (losetup), cgpt and openssl; says SKIP and exits 77 without them.
# usage: tests/bench/update_install_host.sh KEEL_BINARY [ROUNDS] [SIZE_MB]
set -euo pipefail
keel=${1:?usage: $0 KEEL_BINARY [ROUNDS] [SIZE_MB]}
rounds=${2:-5}
size_mb=${3:-256}
export PATH="$PATH:/usr/sbin:/sbin"
for tool in cgpt openssl losetup; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for a loop device"; exit 77; }

work=$(mktemp -d /tmp/keel-bench-install-host.XXXXXX)
loop=""
cleanup() {
  [ -z "$loop" ] || losetup -d "$loop" || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

mkdir trusted
openssl ecparam -name prime256v1 -genkey -noout -out update.key 2>/dev/null
openssl ec -in update.key -pubout -out trusted/update.pem 2>/dev/null
head -c "${size_mb}M" /dev/urandom >root.img
"$keel" update pack --image root.img --version 2.0.0 --channel bench --key update.key \
  --output payload >/dev/null

# Slots with room for the image, its dm-verity tree and the footer.
slot_mib=$((size_mb + size_mb / 64 + 16))
sectors=$((slot_mib * 2048))
truncate -s $(((2 * slot_mib + 4) * 1024 * 1024)) disk.img
cgpt create disk.img 2>/dev/null
cgpt add -b 2048 -s $sectors -t rootfs -l ROOT-A -P 2 -T 0 -S 1 disk.img
cgpt add -b $((2048 + sectors)) -s $sectors -t rootfs -l ROOT-B -P 1 -T 0 -S 1 disk.img
cgpt add -b $((2048 + 2 * sectors)) -s 2048 -t data -l STATE disk.img
cgpt boot -p disk.img >/dev/null # the protective MBR, without which Linux reads no GPT
loop=$(losetup -f --show -P disk.img)
name=${loop#/dev/}
# The kernel's own scan does not always take cgpt's table; partx adds the
# partitions it reads.
[ -e "/sys/class/block/$name/${name}p2" ] || partx -a "$loop" 2>/dev/null || true
for _ in $(seq 50); do [ -e "/sys/class/block/$name/${name}p2/dev" ] && break; sleep 0.1; done
[ -e "/sys/class/block/$name/${name}p2/dev" ] || { echo "SKIP: no partitions on $loop"; exit 77; }
part=/dev/${name}p2
[ -b "$part" ] || { echo "SKIP: no device node $part (no devtmpfs?)"; exit 77; }

now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# timed NAME COMMAND...: "NAME WALL USER" (seconds) into results.
TIMEFORMAT='%R %U'
timed() {
  local name=$1
  shift
  local t
  t=$({ time "$@" >/dev/null 2>&1; } 2>&1) || { echo "$name failed: $*" >&2; exit 1; }
  echo "$name $t" | tee -a results
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cat payload/root.img >/dev/null
for _ in $(seq "$rounds"); do
  timed keel "$keel" update install --disk "$loop" --slot B --trusted trusted \
    --progress-file "$work/progress" payload
  timed dd dd if=payload/root.img of="$part" bs=1M conv=fsync
done
for _ in $(seq "$rounds"); do
  timed keel-sha256 "$keel" sha256 root.img
  timed sha256sum sha256sum root.img
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

field() { awk -v n="$1" -v f="$2" '$1 == n { print $f }' results | median; }
awk -v kw="$(field keel 2)" -v ku="$(field keel 3)" -v dw="$(field dd 2)" -v du="$(field dd 3)" \
  -v hw="$(field keel-sha256 2)" -v hu="$(field keel-sha256 3)" \
  -v sw="$(field sha256sum 2)" -v su="$(field sha256sum 3)" -v mb="$size_mb" 'BEGIN {
  printf "keel update install: median %.2f s (%.1f MB/s), user CPU %.2f s\n", kw, mb / kw, ku
  printf "dd conv=fsync:       median %.2f s (%.1f MB/s), user CPU %.2f s\n", dw, mb / dw, du
  printf "keel throughput / dd throughput: %.2f (goal >= 0.8)\n", dw / kw
  printf "keel sha256: median %.2f s (%.0f MB/s), user CPU %.2f s (%.0f MB/s)\n", hw, mb / hw, hu, mb / hu
  printf "sha256sum:   median %.2f s (%.0f MB/s), user CPU %.2f s (%.0f MB/s)\n", sw, mb / sw, su, mb / su
  printf "keel sha256 / sha256sum throughput: %.2f (wall), %.2f (user CPU)\n", sw / hw, su / hu
}'
# keel uses the SHA extensions exactly when the CPU has them (the unit
# tests check it against this flag).
if grep -qw sha_ni /proc/cpuinfo; then
  echo "SHA-256 engine: sha-extensions (the CPU lists sha_ni)"
else
  echo "SHA-256 engine: portable (the CPU does not list sha_ni)"
fi
