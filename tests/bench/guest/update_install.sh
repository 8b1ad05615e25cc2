#!/bin/sh
# Guest side of tests/bench/update_install.sh: ROUNDS times, alternating,
# `keel update install` of the payload on /dev/vdb into ROOT-B (every chunk
# checked before it is written, the slot read back and checked, the footer
# and the flags written) and `dd` of the same image to the same partition
# (synced), each timed from /proc/uptime; then one `keel sha256` of the
# image. Prints "BENCH keel|dd|sha256 SECONDS" lines and the SHA-256
# engine, then powers off.
rounds=${1:-3}
mkdir -p /run/payload
mount -t ext4 -o ro /dev/vdb /run/payload || echo "BENCH: FAIL mount"
now() { cut -d' ' -f1 /proc/uptime; }
# One read of the image first, so neither side pays for the cold cache.
cat /run/payload/p/root.img >/dev/null
i=0
while [ "$i" -lt "$rounds" ]; do
    start=$(now)
    keel update install /run/payload/p --slot B --progress-file /run/progress >/dev/null ||
        echo "BENCH: FAIL install"
    end=$(now)
    echo "BENCH keel $(echo "$end $start" | awk '{ print $1 - $2 }')"
    start=$(now)
    dd if=/run/payload/p/root.img of=/dev/vda2 bs=1M conv=fsync 2>/dev/null || echo "BENCH: FAIL dd"
    end=$(now)
    echo "BENCH dd $(echo "$end $start" | awk '{ print $1 - $2 }')"
    i=$((i + 1))
done
# What one SHA-256 pass over the image costs here (an install makes two:
# before writing and on read-back), and the engine it ran.
start=$(now)
keel sha256 /run/payload/p/root.img >/dev/null || echo "BENCH: FAIL sha256"
end=$(now)
echo "BENCH sha256 $(echo "$end $start" | awk '{ print $1 - $2 }')"
if grep -qw sha_ni /proc/cpuinfo; then echo "BENCH engine sha-extensions"; else echo "BENCH engine portable"; fi
echo "BENCH: DONE"
keel poweroff
