#!/bin/sh
# Guest side of run_detached: keel run -d of a busybox root with init's
# control socket pointed elsewhere, so a keeper (not a unit) waits for the
# container; what it recorded is read back with keel ps -a and inspect.
exec >/dev/console 2>&1
R=/tmp/root
S=/tmp/state

fail() {
  echo "RUN_DETACHED: FAIL: $*"
  keel ps -a --root $S
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

mkdir -p $R/bin $R/proc $R/sys $R/dev $R/tmp $R/etc
cp /bin/busybox $R/bin/busybox
for applet in sh cat sleep dd; do ln -s busybox $R/bin/$applet; done
grep -q . /sys/fs/cgroup/cgroup.controllers || fail "cgroup2 is not mounted"
# keel run -d asks init at $KEEL_CONTROL_SOCKET; nothing answers there.
krun() { KEEL_CONTROL_SOCKET=/tmp/no-init.sock keel run "$@"; }

echo "RUN_DETACHED: starting"
# One 64 MiB buffer under a 32 MiB limit (dd is the namespace's pid 1).
krun -d --root $S --network none --name hog -m 32m --rootfs $R \
  dd if=/dev/zero of=/dev/null bs=64M count=1 >/tmp/hog.out 2>&1 ||
  fail "run -d hog: $(cat /tmp/hog.out)"
echo "RUN_DETACHED: keel run -d returned"
grep -q 'a keeper process' /tmp/hog.out || fail "not kept by a keeper: $(cat /tmp/hog.out)"
wait_for 600 "keel ps -a --root $S | grep -q 'Exited (137) OOM-killed.*  hog\$'" ||
  fail "the hog: $(keel inspect --root $S hog)"
keel inspect --root $S hog | grep -q '"OOMKilled":true,"Pid":0,"ExitCode":137' ||
  fail "inspect hog: $(keel inspect --root $S hog)"
# The keeper's notice is in the container's log, which keel container logs shows.
keel container logs --root $S hog | grep -q 'container hog was killed: out of memory (limit 32 MiB)' ||
  fail "no OOM message in the log: $(keel container logs --root $S hog 2>&1)"
echo "RUN_DETACHED: OOM kill recorded"

krun -d --root $S --network none --name seven --rootfs $R sh -c 'sleep 0.2; exit 7' \
  >/tmp/seven.out 2>&1 || fail "run -d seven: $(cat /tmp/seven.out)"
wait_for 300 "keel ps -a --root $S | grep -q 'Exited (7) .*  seven\$'" ||
  fail "seven: $(keel inspect --root $S seven)"
keel inspect --root $S seven | grep -q '"OOMKilled":false,"Pid":0,"ExitCode":7' ||
  fail "inspect seven: $(keel inspect --root $S seven)"
echo "RUN_DETACHED: exit code recorded"

keel rm --root $S hog seven >/dev/null || fail "rm"
echo "RUN_DETACHED: PASS"
keel poweroff
