#!/bin/sh
# Guest side of oci_cgroups: a busybox bundle with memory, pids and cpu
# limits run by `keel oci`, checked through /sys/fs/cgroup and the kernel's
# enforcement.
exec >/dev/console 2>&1
G=/sys/fs/cgroup
C=$G/keel.oci/box
B=/tmp/bundle

fail() {
  echo "OCI_CGROUPS: FAIL: $*"
  for f in cgroup.procs memory.max memory.events pids.max cpu.max cgroup.events; do
    [ -e "$C/$f" ] && echo "--- $C/$f:" && cat "$C/$f"
  done
  keel poweroff
  exit 1
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

# bundle ARGS_JSON: the bundle's config with the limits.
bundle() {
  cat >$B/config.json <<JSON
{
  "ociVersion": "1.1.0",
  "process": {"args": $1, "env": ["PATH=/bin"], "cwd": "/",
              "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                               "permitted": ["CAP_KILL"]}},
  "root": {"path": "rootfs"},
  "hostname": "box",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"},
                   {"type": "cgroup"}],
    "resources": {"memory": {"limit": 33554432}, "pids": {"limit": 16},
                  "cpu": {"quota": 50000, "period": 100000}}
  }
}
JSON
}

mkdir -p $B/rootfs/bin $B/rootfs/proc $B/rootfs/dev $B/rootfs/tmp
cp /bin/busybox $B/rootfs/bin/busybox
for applet in sh sleep cat dd echo insmod timeout mknod; do ln -s busybox $B/rootfs/bin/$applet; done
grep -q . $G/cgroup.controllers || fail "cgroup2 is not mounted at $G"

# 0. No module loading without CAP_SYS_MODULE (with it, the kernel would
# refuse busybox for its format, not for the capability).
bundle '["sh", "-c", "insmod /bin/busybox 2>&1; exit 0"]'
out=$(keel oci run --bundle $B mod 2>&1)
echo "$out" | grep -q "Operation not permitted" || fail "insmod in the container: $out"
echo "OCI_CGROUPS: module loading refused"

# 0b. The device rules are enforced (cgroup v2's device filter): with
# CAP_MKNOD a container may make a node for the host's loop0, but not open
# it; /dev/null it may.
bundle '["sh", "-c", "mknod /dev/loopx b 7 0 && cat /dev/loopx 2>&1; cat /dev/null && echo null-ok; exit 0"]'
sed -i 's/"CAP_KILL"\]/"CAP_KILL", "CAP_MKNOD"]/g' $B/config.json
grep -q CAP_MKNOD $B/config.json || fail "could not add CAP_MKNOD to the config"
out=$(keel oci run --bundle $B dev 2>&1)
echo "$out" | grep -q "/dev/loopx.: Operation not permitted" || fail "a device outside the rules was opened: $out"
echo "$out" | grep -q null-ok || fail "/dev/null was not usable: $out"
echo "OCI_CGROUPS: device rules enforced"

# 1. The limits are the group's files, the process is born in the group.
bundle '["sh", "-c", "cat /proc/self/cgroup; sleep 600 & sleep 600"]'
keel oci create --bundle $B box || fail "create"
[ "$(cat $C/memory.max)" = 33554432 ] || fail "memory.max is $(cat $C/memory.max)"
[ "$(cat $C/pids.max)" = 16 ] || fail "pids.max is $(cat $C/pids.max)"
[ "$(cat $C/cpu.max)" = "50000 100000" ] || fail "cpu.max is '$(cat $C/cpu.max)'"
pid=$(keel oci state box | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
grep -qx "$pid" $C/cgroup.procs || fail "the container's process $pid is not in $C"
# A created container can be paused, and is created again once resumed.
keel oci pause box || fail "pause of a created container"
keel oci state box | grep -q '"status":"paused"' || fail "created, then paused: $(keel oci state box)"
keel oci start box 2>/dev/null && fail "a paused container was started"
keel oci resume box || fail "resume of a created container"
keel oci state box | grep -q '"status":"created"' || fail "resumed before start: $(keel oci state box)"
keel oci start box || fail "start"
wait_for 50 '[ "$(keel oci ps --format json box)" != "[$pid]" ]' || fail "ps never showed the sleepers"
count=$(keel oci ps box | grep -c sleep)
[ "$count" = 2 ] || fail "ps shows $count sleeps: $(keel oci ps box)"
echo "OCI_CGROUPS: limits written, $(keel oci ps --format json box) in the group"

# 1b. update changes the limits in force; a value the kernel refuses
# (unified is written last, after memory.max) leaves every limit as it was.
keel oci update --memory 67108864 --pids-limit 32 box || fail "update"
[ "$(cat $C/memory.max)" = 67108864 ] || fail "memory.max after update is $(cat $C/memory.max)"
[ "$(cat $C/pids.max)" = 32 ] || fail "pids.max after update is $(cat $C/pids.max)"
echo '{"memory": {"limit": 50331648}, "unified": {"pids.max": "bogus"}}' |
  keel oci update -r - box 2>/tmp/err && fail "pids.max = bogus was accepted"
echo "OCI_CGROUPS: update refused: $(cat /tmp/err)"
[ "$(cat $C/memory.max)" = 67108864 ] || fail "a refused update changed memory.max to $(cat $C/memory.max)"
[ "$(cat $C/pids.max)" = 32 ] || fail "a refused update changed pids.max to $(cat $C/pids.max)"
echo "OCI_CGROUPS: update applied, a refused one left the limits"

# 2. pause freezes every process of the container, resume thaws them.
keel oci pause box || fail "pause"
keel oci state box | grep -q '"status":"paused"' || fail "not paused: $(keel oci state box)"
grep -qx 'frozen 1' $C/cgroup.events || fail "cgroup.events does not say frozen"
keel oci resume box || fail "resume"
keel oci state box | grep -q '"status":"running"' || fail "not running: $(keel oci state box)"
echo "OCI_CGROUPS: paused and resumed"

# 3. kill --all reaches every process; delete removes the group.
keel oci kill --all box KILL || fail "kill --all"
wait_for 50 'keel oci state box | grep -q "\"status\":\"stopped\""' || fail "not stopped after kill --all"
keel oci delete box || fail "delete"
[ ! -e $C ] || fail "$C is left after delete"
echo "OCI_CGROUPS: kill --all and delete left no group"

# 3b. cpu quota 50%: a busy loop is throttled; pids.limit 16: a loop that
# forks 50 sleepers stops at 16 tasks.
# (timeout is not the container's pid 1: signals from inside its
# namespace do not reach a pid 1 that has no handler.)
bundle '["sh", "-c", "timeout 2 sh -c \"while :; do :; done\"; exit 0"]'
keel oci run --detach --bundle $B busy || fail "run busy"
wait_for 100 'keel oci state busy | grep -q "\"status\":\"stopped\""' || fail "the busy loop did not end"
throttled=$(sed -n 's/^nr_throttled //p' $G/keel.oci/busy/cpu.stat)
[ "${throttled:-0}" -gt 0 ] || fail "a busy loop under a 50% quota was never throttled"
keel oci delete busy || fail "delete busy"
echo "OCI_CGROUPS: busy loop throttled $throttled times"
# shellcheck disable=SC2016 # expanded by the container's shell
# (The loop's shell is not pid 1, which stays to hold the sleepers when a
# failed fork ends the loop.)
bundle '["sh", "-c", "sh -c \"i=0; while [ \\$i -lt 50 ]; do sleep 600 & i=\\$((i + 1)); done; wait\"; exec sleep 600"]'
keel oci run --detach --bundle $B bomb || fail "run bomb"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 100 '[ "$(sed -n "s/^max //p" $G/keel.oci/bomb/pids.events)" -gt 0 ] 2>/dev/null' ||
  fail "the fork loop never hit pids.max"
sleep 1
tasks=$(cat $G/keel.oci/bomb/pids.current)
if [ "$tasks" -lt 14 ] || [ "$tasks" -gt 16 ]; then
  fail "pids.current is $tasks, expected 14 to 16 (pids.max 16)"
fi
keel oci delete --force bomb || fail "delete --force bomb"
[ ! -e $G/keel.oci/bomb ] || fail "the fork loop's group is left"
echo "OCI_CGROUPS: fork loop stopped at $tasks tasks"

# 4. memory.limit is enforced: a 64 MiB buffer is OOM-killed (137).
bundle '["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]'
keel oci run --bundle $B hog
status=$?
[ "$status" = 137 ] || fail "the memory hog exited with $status, expected 137"
echo "OCI_CGROUPS: memory hog OOM-killed"

# 5. Limits a host without the controllers cannot apply are refused, and
# nothing is left.
sed -i 's/"pids": {"limit": 16}/"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]/' $B/config.json
keel oci create --bundle $B bad 2>/tmp/err && fail "an impossible limit was accepted"
echo "OCI_CGROUPS: refused: $(cat /tmp/err)"
[ ! -e $G/keel.oci/bad ] || fail "a refused create left its group"
[ ! -e /run/keel/oci/bad ] || fail "a refused create left its record"

# 6. systemd's cgroupsPath form, with --systemd-cgroup as containerd's
# systemd driver passes it: the scope under its slices, which stay after
# delete as keel.oci does; a path in the other form is refused with it.
bundle '["sleep", "600"]'
sed -i 's|"linux": {|"linux": {"cgroupsPath": "machine-web.slice:keel:sd",|' $B/config.json
keel oci --systemd-cgroup run --detach --bundle $B sd || fail "run with systemd's cgroupsPath"
S=$G/machine.slice/machine-web.slice/keel-sd.scope
pid=$(keel oci state sd | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
grep -qx "$pid" $S/cgroup.procs || fail "the process $pid is not in $S"
[ "$(cat $S/memory.max)" = 33554432 ] || fail "the scope's memory.max: $(cat $S/memory.max)"
keel oci delete --force sd || fail "delete sd"
[ ! -e $S ] || fail "delete left the scope"
[ -d $G/machine.slice/machine-web.slice ] || fail "delete took the slice"
sed -i 's|"cgroupsPath": "machine-web.slice:keel:sd",|"cgroupsPath": "/plain",|' $B/config.json
keel oci --systemd-cgroup create --bundle $B plain 2>/tmp/err && fail "a cgroupfs path was taken as systemd's"
grep -q 'expected systemd' /tmp/err || fail "the refusal: $(cat /tmp/err)"
echo "OCI_CGROUPS: systemd's slice:prefix:name form"

echo "OCI_CGROUPS: PASS"
keel poweroff
