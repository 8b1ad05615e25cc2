#!/bin/sh
# Guest side of services_order: a and b start together, c after both ended.
TEST=SERVICES_ORDER
. /svc/lib.sh
wait_for 30 test -s /run/svc/c.start || fail "order_c.service never started"
a=$(cat /run/svc/a.start) b=$(cat /run/svc/b.start) c=$(cat /run/svc/c.start)
a_end=$(cat /run/svc/a.end) b_end=$(cat /run/svc/b.end)
echo "SERVICES_ORDER: a=$a..$a_end b=$b..$b_end c=$c (centiseconds since boot)"
gap=$((a > b ? a - b : b - a))
[ "$gap" -lt 100 ] || fail "a and b started $gap cs apart: not in parallel"
[ "$c" -ge "$a_end" ] && [ "$c" -ge "$b_end" ] || fail "c started before a and b ended"
in_state multi-user.target active/active || fail "multi-user.target is $(state multi-user.target)"
in_state order_a.service active/exited || fail "order_a.service is $(state order_a.service)"
# Each service runs in its own cgroup with its unit's limits.
group=/sys/fs/cgroup/keel.slice/order_c.service
[ "$(cat $group/pids.max)" = 50 ] || fail "pids.max is $(cat $group/pids.max 2>&1)"
[ "$(cat $group/memory.max)" = 67108864 ] || fail "memory.max is $(cat $group/memory.max 2>&1)"
main=$(keel status order_c --json | sed -n 's/.*"main_pid":\([0-9]*\).*/\1/p')
grep -qx "$main" $group/cgroup.procs || fail "main pid $main is not in $group"
keel status order_c | grep -q 'Tasks: 1' || fail "status shows no tasks: $(keel status order_c)"
keel status order_c
# The journal has the kernel's boot lines
# and keel's lines from before it existed, each once in the view of all.
wait_for 10 sh -c 'keel logs -n 100000 | grep -q "Run /init as init process"' ||
  fail "the kernel's boot lines are not in the journal"
ready=$(keel logs -n 100000 | grep -c 'ready in .* s since kernel start')
[ "$ready" = 1 ] || fail "keel's ready line is in the journal $ready times"
started=$(keel logs -n 100000 | grep -c 'Started order_c.service')
[ "$started" = 1 ] || fail "the start of order_c.service is in the journal $started times"
pass
