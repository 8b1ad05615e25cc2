#!/bin/sh
# tests/bench/reboot.sh's guest side, run in every boot (keel.run=): counts
# its boots on STATE and alternates the reboots, cold (through the
# firmware) on even boots, kexec on odd ones, ROUNDS of each, then powers
# off. The host times each from the "BENCH: reboot" line to the next
# "keel: ready" line.
rounds=${1:-3}
count=/var/lib/bench-reboot/count
mkdir -p "${count%/*}"
n=$(($(cat "$count" 2>/dev/null || echo 0) + 1))
echo "$n" >"$count"
sync
if [ "$n" -gt $((2 * rounds)) ]; then
    echo "BENCH: done after $((n - 1)) reboots"
    keel poweroff
elif [ $((n % 2)) -eq 0 ]; then
    echo "BENCH: reboot cold $n"
    keel reboot
else
    echo "BENCH: reboot kexec $n"
    keel reboot --kexec || { echo "BENCH: kexec failed"; keel poweroff; }
fi
