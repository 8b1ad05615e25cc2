#!/bin/sh
# Guest side of services_stop_timeout: power off with a service that
# ignores SIGTERM. The host checks the console: SIGKILL after 3 s, clean
# power-off.
TEST=SERVICES_STOP_TIMEOUT
. /svc/lib.sh
wait_for 30 test -e /run/stubborn || fail "stubborn.service never started"
wait_for 10 in_state stubborn.service active/running || fail "stubborn.service is $(state stubborn.service)"
echo "SERVICES_STOP_TIMEOUT: calling keel poweroff at $(uptime_cs) cs"
keel poweroff
sleep 600
