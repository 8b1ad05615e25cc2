#!/bin/sh
# Guest side of services_watchdog: a missed watchdog restarts the service.
TEST=SERVICES_WATCHDOG
. /svc/lib.sh
wait_for 40 at_least /run/svc/dog.runs 2 || fail "dog.service was not restarted"
keel logs dog | grep -q 'watchdog timeout (limit 2 s), killing it with SIGABRT' || fail "no watchdog line"
keel logs dog | grep -q 'killed by signal 6 (SIGABRT)' || fail "not killed with SIGABRT"
first=$(head -n 1 /run/svc/dog.runs) second=$(sed -n 2p /run/svc/dog.runs)
# Fed at 1 s and 2 s, so the timeout is at 4 s: not before.
[ $((second - first)) -ge 380 ] || fail "restarted after $((second - first)) cs: fed too early?"
pass
