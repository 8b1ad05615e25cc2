#!/bin/sh
# Guest side of signals: sends the signal named in $1 to PID 1, as the kernel
# (ctrl-alt-del: SIGINT), a UPS daemon (SIGPWR) or an old `init 6` would.
exec >/dev/console 2>&1
echo "SIGNAL: sending SIG$1 to pid 1"
kill -"$1" 1
sleep 600
