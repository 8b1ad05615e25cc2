#!/usr/bin/env bash
# Benchmark: time from `keel reboot` to "keel: ready" on the console, cold
# reboot (QEMU resets the machine: firmware, then the kernel) vs `keel
# reboot --kexec` (the kernel the booted slot carries in /boot, started
# without the firmware), alternating in the same QEMU VM on one keel disk
# (tools/mkimage --slot-kernel). Both boot the same compressed kernel
# (keel-qemu --no-pvh: a kexec cannot take QEMU's PVH shortcut) and the
# same initramfs. The firmware boot's command line says keel.kexec=A, as a
# bootloader that starts a slot's own kernel would, so neither path kexecs
# a second time from the initramfs. Times are host wall clock at the
# lines' arrival on the serial console. Prints each reboot, the medians and
# their ratio: a benchmark, not an assertion (TCG on a shared host: use 5
# rounds or more for a figure to quote).
# usage: tests/bench/reboot.sh KEEL_BINARY [ROUNDS]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
keel=${1:?usage: $0 KEEL_BINARY [ROUNDS]}
rounds=${2:-3}
work=$(mktemp -d /tmp/keel-bench-reboot.XXXXXX)
cleanup() {
  if [ -n "${KEEP:-}" ]; then echo "work: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# No debug info in the guest: the slot's initramfs holds keel too.
objcopy --strip-debug -- "$keel" "$work/keel"
"$repo/tools/mkimage" --keel "$work/keel" --output "$work/image" --busybox --slot-kernel \
  --file "$repo/tests/bench/guest/reboot.sh:/reboot.sh" >"$work/mkimage.log" 2>&1 ||
  { cat "$work/mkimage.log" >&2; exit 1; }

stamped=$work/stamped.log
# keel-qemu copies the console to stdout: each line gets the host's time of
# arrival.
stamp() {
  local line
  while IFS= read -r line; do
    printf '%s %s\n' "$EPOCHREALTIME" "${line//$'\r'/}"
  done
}
status=0
"$repo/tools/keel-qemu" --no-pvh --memory 1024 --timeout $((120 + rounds * 120)) \
  --initrd "$work/image/initramfs.img" --disk "$work/image/disk.img" \
  --append "keel.kexec=A keel.run=\"/bin/sh /reboot.sh $rounds\"" \
  --qemu-arg -action --qemu-arg reboot=reset 2>"$work/runner.log" | stamp >"$stamped" ||
  status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ] || ! grep -q 'BENCH: done' "$stamped"; then
  tail -n 40 "$stamped" >&2
  cat "$work/runner.log" >&2
  echo "reboot bench: the guest did not finish (keel-qemu exit $status)" >&2
  exit 1
fi
grep -q 'BENCH: kexec failed' "$stamped" && { echo "reboot bench: kexec failed" >&2; exit 1; }

# "KIND TOTAL HANDOVER" per reboot: from its "BENCH: reboot KIND" to the
# next ready, and the part of it between the old kernel's last line
# ("Restarting system" / "Starting new kernel") and the new one's first:
# the firmware, or kexec's purgatory (which checks the SHA-256 of what was
# loaded, slowly under TCG), and the kernel unpacking itself in both.
awk '
  /BENCH: reboot (cold|kexec) / { kind = index($0, "BENCH: reboot cold") ? "cold" : "kexec"; start = $1; gone = 0; next }
  /reboot: Restarting system|kexec_core: Starting new kernel/ { if (kind != "") gone = $1 }
  /Linux version/ { if (kind != "" && gone) handover = $1 - gone }
  / keel: ready in / { if (kind != "") { printf "%s %.3f %.3f\n", kind, $1 - start, handover; kind = "" } }
' "$stamped" >"$work/results"
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
while read -r kind total handover; do
  echo "$kind reboot: $total s to ready ($handover s between the kernels)"
done <"$work/results"
cold=$(awk '$1 == "cold" { print $2 }' "$work/results" | median)
kexec=$(awk '$1 == "kexec" { print $2 }' "$work/results" | median)
cold_handover=$(awk '$1 == "cold" { print $3 }' "$work/results" | median)
kexec_handover=$(awk '$1 == "kexec" { print $3 }' "$work/results" | median)
echo "reboot to ready, median of $rounds each (TCG): cold $cold s, kexec $kexec s;" \
  "between the kernels: firmware $cold_handover s, kexec $kexec_handover s"
awk -v c="$cold" -v k="$kexec" 'BEGIN { if (c > 0) printf "kexec/cold: %.2f\n", k / c }'
