#!/bin/sh
# Guest side of services_restart: three runs RestartSec= apart, then the
# start limit stops it.
TEST=SERVICES_RESTART
. /svc/lib.sh
wait_for 40 in_state crash.service failed/failed || fail "crash.service is $(state crash.service)"
runs=$(lines /run/svc/crash.runs)
[ "$runs" -eq 3 ] || fail "expected 3 runs (StartLimitBurst=3), got $runs"
prev=""
for t in $(cat /run/svc/crash.runs); do
  if [ -n "$prev" ] && [ $((t - prev)) -lt 90 ]; then fail "restarted after $((t - prev)) cs, RestartSec=1s"; fi
  prev=$t
done
keel status crash --json | grep -q '"result":"start-limit-hit"' || fail "result: $(keel status crash --json)"
keel logs crash | grep -q 'exited with status 3, restarting in 1 s' || fail "no restart line in the journal"
sleep 2
[ "$(lines /run/svc/crash.runs)" -eq 3 ] || fail "it ran again after the start limit"
keel status crash
pass
