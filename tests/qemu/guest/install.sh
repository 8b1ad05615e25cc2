#!/bin/sh
# A/B install as the booted system does it: mounts the payload disk
# (/dev/vdb, ext4) at /payload, says which image runs (its hostname), and
# per word: `good` marks the booted slot good, `install:DIR` installs the
# payload /payload/DIR into the other slot (`keel update install`), `status`
# prints the slots. Ends with keel poweroff.
echo "INSTALL: running $(cat /etc/hostname)"
mkdir -p /payload
mount -t ext4 -o ro /dev/vdb /payload || echo "INSTALL: FAIL mount"
for step in "$@"; do
    case "$step" in
        good) keel update mark-good || echo "INSTALL: FAIL mark-good" ;;
        install:*) keel update install "/payload/${step#install:}" --progress-file /run/progress ||
            echo "INSTALL: FAIL install" ;;
        status) keel update status || echo "INSTALL: FAIL status" ;;
    esac
done
echo "INSTALL: PASS"
keel poweroff
