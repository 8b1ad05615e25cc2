#!/bin/sh
# Guest side of cgroups_limits: `keel cgroup run` puts commands in
# keel.slice/limits with MemoryMax=32M, TasksMax=5, CPUQuota=20%, and the
# kernel enforces them: the command is in the group from its start, cpu.max
# reads "20000 100000" and a busy loop is throttled, a memory hog is
# OOM-killed (oom_kill 1), a fork loop stops at pids.max, and cgroup.kill
# empties the group. Then a delegated root that holds a process of its own
# ("no internal processes") gets that process moved to init.scope. Last,
# limits.service (guest/cgroups_limits.service) gets its unit file's
# MemoryMax=, MemoryHigh=, TasksMax=, CPUQuota=, CPUWeight= and IOWeight=
# in keel.slice/limits.service.
exec >/dev/console 2>&1
G=/sys/fs/cgroup
S=$G/keel.slice/limits

fail() {
  echo "CGROUPS_LIMITS: FAIL: $*"
  for f in cgroup.procs memory.max memory.high memory.events cpu.max cpu.stat cpu.weight io.weight \
    pids.max pids.current pids.events; do
    [ -e "$S/$f" ] && echo "--- $S/$f:" && cat "$S/$f"
  done
  keel poweroff
  exit 1
}

# Runs "$@" in keel.slice/limits with the three limits.
run_limited() {
  keel cgroup run --memory-max 32M --tasks-max 5 --cpu-quota 20% limits -- "$@"
}

# Waits up to $1 tenths of a second for the command in $2 to succeed.
wait_for() {
  n=0
  while ! eval "$2"; do
    n=$((n + 1))
    [ "$n" -le "$1" ] || return 1
    sleep 0.1
  done
}

keel cgroup help >/dev/null 2>&1 || fail "keel has no cgroup command (cli/main.cpp must dispatch it)"
grep -q . $G/cgroup.controllers || fail "cgroup2 is not mounted at $G"

# 1. In the group from the first instruction, with the limits written.
where=$(run_limited cat /proc/self/cgroup) || fail "keel cgroup run ... cat /proc/self/cgroup failed"
[ "$where" = "0::/keel.slice/limits" ] || fail "the command ran in '$where'"
for c in memory cpu pids; do
  grep -qw $c $G/cgroup.subtree_control || fail "$c not enabled in $G/cgroup.subtree_control"
  grep -qw $c $G/keel.slice/cgroup.subtree_control || fail "$c not enabled in keel.slice"
done
[ "$(cat $S/memory.max)" = 33554432 ] || fail "memory.max is $(cat $S/memory.max)"
[ "$(cat $S/cpu.max)" = "20000 100000" ] || fail "cpu.max is '$(cat $S/cpu.max)'"
[ "$(cat $S/pids.max)" = 5 ] || fail "pids.max is $(cat $S/pids.max)"
echo "CGROUPS_LIMITS: cpu.max is '$(cat $S/cpu.max)', memory.max $(cat $S/memory.max), pids.max $(cat $S/pids.max)"

# 2. CPUQuota=20%: a busy loop is throttled.
run_limited timeout 2 sh -c 'while :; do :; done'
throttled=$(sed -n 's/^nr_throttled //p' $S/cpu.stat)
[ "${throttled:-0}" -gt 0 ] || fail "a busy loop under CPUQuota=20% was never throttled"
echo "CGROUPS_LIMITS: busy loop throttled $throttled times"

# 3. MemoryMax=32M: a 64 MiB buffer gets the process OOM-killed.
run_limited dd if=/dev/zero of=/dev/null bs=64M count=1
status=$?
[ "$status" = 137 ] || fail "the memory hog exited with $status, expected 137 (SIGKILL)"
grep -qx 'oom_kill 1' $S/memory.events || fail "memory.events does not say oom_kill 1"
keel cgroup stats limits | grep -qx 'oom kills: 1' || fail "keel cgroup stats does not show 1 OOM kill"
echo "CGROUPS_LIMITS: memory hog OOM-killed, oom_kill 1"

# 4. TasksMax=5: a loop that forks 50 sleepers stops at 5 tasks.
# shellcheck disable=SC2016 # expanded by the inner shell
run_limited sh -c 'i=0; while [ $i -lt 50 ]; do sleep 600 & i=$((i + 1)); done; wait' &
run_pid=$!
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 100 '[ "$(sed -n "s/^max //p" $S/pids.events)" -gt 0 ] 2>/dev/null' ||
  fail "the fork loop never hit pids.max"
sleep 1
tasks=$(cat $S/pids.current)
if [ "$tasks" -lt 4 ] || [ "$tasks" -gt 5 ]; then
  fail "pids.current is $tasks, expected 4 or 5"
fi
echo "CGROUPS_LIMITS: fork loop stopped at $tasks tasks ($(cat $S/pids.events))"

# 5. cgroup.kill empties the group.
keel cgroup kill limits || fail "keel cgroup kill failed"
[ -z "$(cat $S/cgroup.procs)" ] || fail "processes left after kill: $(cat $S/cgroup.procs)"
grep -qx 'populated 0' $S/cgroup.events || fail "cgroup.events still says populated"
wait $run_pid
echo "CGROUPS_LIMITS: cgroup.kill emptied the group"
keel cgroup remove limits || fail "keel cgroup remove failed"
[ ! -e $S ] || fail "$S still exists after remove"

# 6. A delegated root with a process of its own: moved to init.scope.
N=$G/nested
mkdir $N
sleep 600 &
sleeper=$!
echo $sleeper >$N/cgroup.procs
where=$(keel cgroup run --root $N --tasks-max 3 inner -- cat /proc/self/cgroup) ||
  fail "keel cgroup run --root $N failed"
[ "$where" = "0::/nested/keel.slice/inner" ] || fail "the nested command ran in '$where'"
grep -qx "$sleeper" $N/init.scope/cgroup.procs || fail "pid $sleeper was not moved to init.scope"
[ "$(cat $N/keel.slice/inner/pids.max)" = 3 ] || fail "nested pids.max is wrong"
kill $sleeper
echo "CGROUPS_LIMITS: nested root's own process moved to init.scope"

# 7. A unit file's cgroup keys, as PID 1 writes them (the io controller is
# optional to keel, but this kernel has it, and blk-iocost's io.weight).
S=$G/keel.slice/limits.service
keel start limits.service || fail "keel start limits.service failed"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 50 '[ -e $S/memory.high ]' || fail "limits.service has no cgroup $S"
grep -qw io $G/keel.slice/cgroup.subtree_control || fail "io not enabled in keel.slice"
[ "$(cat $S/memory.max)" = 33554432 ] || fail "limits.service: memory.max is $(cat $S/memory.max)"
[ "$(cat $S/memory.high)" = 25165824 ] ||
  fail "limits.service: memory.high is $(cat $S/memory.high), expected 25165824 (MemoryHigh=24M)"
[ "$(cat $S/pids.max)" = 5 ] || fail "limits.service: pids.max is $(cat $S/pids.max)"
[ "$(cat $S/cpu.max)" = "20000 100000" ] || fail "limits.service: cpu.max is '$(cat $S/cpu.max)'"
[ "$(cat $S/cpu.weight)" = 50 ] || fail "limits.service: cpu.weight is $(cat $S/cpu.weight)"
[ "$(cat $S/io.weight)" = "default 500" ] ||
  fail "limits.service: io.weight is '$(cat $S/io.weight)', expected 'default 500' (IOWeight=500)"
echo "CGROUPS_LIMITS: limits.service: memory.high $(cat $S/memory.high), io.weight '$(cat $S/io.weight)'"
keel stop limits.service || fail "keel stop limits.service failed"

echo "CGROUPS_LIMITS: PASS"
keel poweroff
