#!/bin/sh
# Runs inside the demo VM, started by keel (keel.run=): shows keel at work
# as PID 1 and service manager, then powers the VM off through keel's
# control socket.
step() { printf '\n== demo: %s\n' "$*"; }

step "hostname $(hostname), kernel $(uname -r); mounts set up by keel:"
awk '{print "  " $2 " (" $3 ")"}' /proc/mounts

step "orphaning 100 processes; keel reaps them"
for i in $(seq 100); do (sleep 0.1 &); done
sleep 3
echo "zombies left: $(cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == "Z"' | wc -l)"

step "keel status: init's state"
keel status

step "keel list-units: clock runs; flaky crashed, was restarted, hit its start limit"
keel list-units

step "keel status clock: its main process, tasks and memory (its cgroup), last lines"
keel status clock -n 3

step "keel logs flaky: what it printed and what keel did"
keel logs -n 12 flaky

step "keel poweroff: units stopped, processes ended, filesystems unmounted"
keel poweroff
