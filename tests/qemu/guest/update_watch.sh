#!/bin/sh
# update_health's watcher (keel.run): waits (at most 120 s) until the
# booted slot is successful, shows the slots and the update role's log, and
# powers off. A reboot by the update role ends it sooner.
exec >/dev/console 2>&1
i=0
while [ $i -lt 120 ]; do
    # SLOT LABEL PARTITION PRIORITY TRIES SUCCESSFUL STATE
    set -- $(keel update status | awk '$1 ~ /^[AB]$/ && /booted/ {print $1, $6}')
    if [ "${2:-}" = yes ]; then
        echo "WATCH: slot $1 is successful"
        break
    fi
    sleep 1
    i=$((i + 1))
done
keel update status
keel logs -n 20 keel-update.service
keel poweroff
