#!/bin/sh
# Guest side of poweroff: `keel poweroff` must stop everything (including a
# process still running) and power the machine off.
exec >/dev/console 2>&1
sleep 600 &
echo "POWEROFF: calling keel poweroff with pid $! still running"
keel poweroff
echo "POWEROFF: keel poweroff returned $?"
sleep 600
