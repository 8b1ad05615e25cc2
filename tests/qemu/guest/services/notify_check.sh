#!/bin/sh
# Guest side of services_notify: gated.service waits for READY=1.
TEST=SERVICES_NOTIFY
. /svc/lib.sh
wait_for 20 in_state ready.service activating/start || fail "ready.service is $(state ready.service)"
[ ! -e /run/svc/gated.start ] || fail "gated.service started before READY=1"
wait_for 30 test -s /run/svc/gated.start || fail "gated.service never started"
[ "$(cat /run/svc/gated.start)" -ge "$(cat /run/svc/ready.at)" ] || fail "gated.service started before READY=1"
in_state ready.service active/running || fail "ready.service is $(state ready.service)"
keel status ready | grep -q 'Status: "serving"' || fail "no status text"
pass
