#!/bin/sh
# update_auto's watcher (keel.run): serves the payload disk (/dev/vdb,
# ext4) with busybox httpd on 127.0.0.1:8080 for the update role's Source=,
# shows the limits of the role's cgroup, and waits (at most 240 s). On the
# old version the role's reboot ends it; on the new one it powers off once
# the booted slot is successful.
exec >/dev/console 2>&1
echo "AUTO: running $(cat /etc/hostname)"
mkdir -p /run/payload
mount -t ext4 -o ro /dev/vdb /run/payload || echo "AUTO: FAIL mount"
ip link set lo up
httpd -p 127.0.0.1:8080 -h /run/payload || echo "AUTO: FAIL httpd"
cgroup=/sys/fs/cgroup/keel.slice/keel-update.service
i=0
while [ ! -e "$cgroup/io.max" ] && [ $i -lt 30 ]; do
    sleep 1
    i=$((i + 1))
done
echo "AUTO: io.max $(cat "$cgroup/io.max" 2>&1)"
echo "AUTO: cpu.weight $(cat "$cgroup/cpu.weight" 2>&1)"
i=0
while [ $i -lt 240 ]; do
    # SLOT LABEL PARTITION PRIORITY TRIES SUCCESSFUL STATE
    set -- $(keel update status | awk '$1 ~ /^[AB]$/ && /booted/ {print $1, $6}')
    if [ "$(cat /etc/hostname)" = keel-b ] && [ "${2:-}" = yes ]; then
        echo "AUTO: slot $1 is successful"
        break
    fi
    sleep 1
    i=$((i + 1))
done
keel update status
keel logs -n 30 keel-update.service
keel poweroff
