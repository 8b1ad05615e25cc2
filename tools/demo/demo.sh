#!/bin/sh
# Runs inside the demo VM, started by keel (keel.run=): shows keel at work,
# then powers the VM off through keel's control socket.
echo "demo: hostname $(hostname), kernel $(uname -r)"
echo "demo: mounts set up by keel:"
awk '{print "  " $2 " (" $3 ")"}' /proc/mounts
echo "demo: orphaning 100 processes; keel reaps them"
for i in $(seq 100); do (sleep 0.1 &); done
sleep 1
echo "demo: zombies left: $(cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == "Z"' | wc -l)"
keel status
echo "demo: keel poweroff"
keel poweroff
