#!/bin/sh
# The guest side of tests/qemu/update_power_cut.sh: work the host cuts the
# power of (SIGKILL of QEMU) at moments it picks from these lines. Says
# which image runs and prints the slots first, then per word:
#   install:DIR  `keel update install /run/payload/DIR` (the payload disk,
#                /dev/vdb) with the default progress file on STATE, in the
#                background; every change of that file is printed
#                (POWERCUT: progress verified_bytes=N) until it ends
#   activate:S   `keel update activate S`
#   good         `keel update mark-good` of the booted slot
#   flags:N      N rounds of `keel update activate B`, then `activate A`,
#                each write announced before it starts
#   status       `keel update status`
# Ends with keel poweroff (when the power was not cut first).
echo "POWERCUT: running $(cat /etc/hostname)"
keel update status || echo "POWERCUT: FAIL status"
progress=/var/lib/keel/update/progress
for step in "$@"; do
    case "$step" in
        install:*)
            mkdir -p /run/payload
            mount -t ext4 -o ro /dev/vdb /run/payload || echo "POWERCUT: FAIL mount"
            keel update install "/run/payload/${step#install:}" &
            installer=$!
            last=""
            # Bounded: the install ends (or the power is cut) long before.
            i=0
            while kill -0 "$installer" 2>/dev/null && [ "$i" -lt 3000 ]; do
                now=$(sed -n 's/.*"verified_bytes":\([0-9]*\).*/\1/p' "$progress" 2>/dev/null)
                if [ -n "$now" ] && [ "$now" != "$last" ]; then
                    echo "POWERCUT: progress verified_bytes=$now"
                    last=$now
                fi
                i=$((i + 1))
                sleep 0.1
            done
            wait "$installer" || echo "POWERCUT: FAIL install"
            ;;
        activate:*) keel update activate "${step#activate:}" || echo "POWERCUT: FAIL activate" ;;
        good) keel update mark-good || echo "POWERCUT: FAIL mark-good" ;;
        flags:*)
            echo "POWERCUT: flags loop started"
            round=1
            while [ "$round" -le "${step#flags:}" ]; do
                for slot in B A; do
                    echo "POWERCUT: round $round: activate $slot"
                    keel update activate "$slot" || echo "POWERCUT: FAIL activate $slot"
                done
                round=$((round + 1))
            done
            echo "POWERCUT: flags loop ended"
            ;;
        status) keel update status || echo "POWERCUT: FAIL status" ;;
    esac
done
echo "POWERCUT: PASS"
keel poweroff
