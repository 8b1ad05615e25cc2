#!/bin/sh
# update_health's health unit: exits 1 when the booted slot (from `keel
# update status`) is the one update_test.unhealthy= on the kernel command
# line names, else stays up (active) for the update role to see.
slot=$(keel update status | awk '$1 ~ /^[AB]$/ && /booted/ {print $1}')
echo "HEALTH: booted slot ${slot:-unknown}" >/dev/console
if grep -q "update_test.unhealthy=$slot" /proc/cmdline; then
    echo "HEALTH: failing on slot $slot" >/dev/console
    exit 1
fi
exec sleep 100000
