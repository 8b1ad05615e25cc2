#!/bin/sh
# ExecStart of guest/hello.service: report, then power the guest off.
exec >/dev/console 2>&1
echo "UNITS: PASS: hello.service runs as pid $$"
keel poweroff
