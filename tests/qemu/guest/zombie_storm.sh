#!/bin/sh
# Guest side of zombie_storm: 500 double-forked children are orphaned to
# PID 1 and exit; PID 1 must reap every one of them.
exec >/dev/console 2>&1
N=${1:-500}

fail() {
  echo "ZOMBIE_STORM: FAIL: $*"
  keel poweroff
  exit 1
}

# Sets z (zombies) and s (live sleep processes) from /proc/*/stat.
count() {
  z=0
  s=0
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue # the process is gone
    rest=${line##*) }
    state=${rest%% *}
    [ "$state" = Z ] && z=$((z + 1))
    case "$line" in
      *"(sleep) "*) [ "$state" = Z ] || s=$((s + 1)) ;;
    esac
  done
}

# One orphan that lives long enough to check who adopted it.
(sleep 3 & echo $! >/tmp/orphan.pid)
pid=$(cat /tmp/orphan.pid)
read -r line </proc/"$pid"/stat || fail "orphan $pid is gone already"
rest=${line##*) }
ppid=$(echo "$rest" | cut -d' ' -f2)
[ "$ppid" = 1 ] || fail "orphan $pid has parent $ppid, not PID 1"

start=$(cut -d' ' -f1 /proc/uptime)
for _ in $(seq "$N"); do
  (sleep 0.1 &)
done
echo "ZOMBIE_STORM: spawned $N orphans in $(awk "BEGIN{print $(cut -d' ' -f1 /proc/uptime) - $start}") s"

# Orphans exit 0.1 s after their birth, the long one after 3 s. Wait until
# none is left running, give PID 1 two more seconds, then count zombies.
i=0
while :; do
  count
  [ "$s" -eq 0 ] && break
  i=$((i + 1))
  [ "$i" -lt 100 ] || fail "$s sleep processes still running after 20 s"
  sleep 0.2
done
sleep 2
count
echo "ZOMBIE_STORM: zombies=$z"
[ "$z" -eq 0 ] || {
  grep -h '^[0-9]* ([^)]*) Z' /proc/[0-9]*/stat 2>/dev/null | head -n 5
  fail "$z zombie processes left after the storm"
}
echo "ZOMBIE_STORM: PASS"
keel poweroff
