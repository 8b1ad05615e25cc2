#!/bin/sh
# Guest side of tests/bench/oci_run_qemu.sh, under keel as PID 1 with cgroup
# v2 mounted: checks that keel, crun and runc each put a container in a
# cgroup with the bundle's memory limit, then runs ROUNDS rounds alternating
# between them of RUNS containers each, and prints one line per round and
# runtime: "BENCH: <runtime> <round> <ms per container>". Also each
# runtime's peak RSS for one run (GNU time's %M) as "BENCH_RSS: <runtime>
# <kB>". Then powers off.
# usage: oci_run.sh ROUNDS RUNS pivot|no-pivot
#   pivot: first moves a tmpfs onto / in a private mount namespace and
#     chroots into it (tmpfs_root.sh), as switch_root does, so the
#     containers are entered with pivot_root as on a real system (the
#     initramfs's rootfs cannot be pivoted away from).
#   no-pivot: stays in the initramfs and passes --no-pivot to all three
#     (MS_MOVE + chroot instead of pivot_root).
exec >/dev/console 2>&1
rounds=$1
runs=$2
entry=$3
# shellcheck source=tmpfs_root.sh
. /tmpfs_root.sh
[ "$entry" = pivot ] && enter_tmpfs_root "/bundle /check /bench.sh /tmpfs_root.sh" /bench.sh "$@"

root_type=$(awk '$5 == "/" {t = $0} END {sub(/.* - /, "", t); split(t, f, " "); print f[1]}' /proc/self/mountinfo)
echo "BENCH: root filesystem $root_type, containers entered with $entry"
opt=
[ "$entry" = no-pivot ] && opt=--no-pivot
state=/run/bench
mkdir -p $state

# rt NAME ARGS...: runs the runtime NAME's `run` with ARGS.
rt() {
  name=$1
  shift
  case $name in
    keel) keel oci --root $state/keel run $opt "$@" ;;
    crun) crun --root $state/crun run $opt "$@" ;;
    runc) runc --root $state/runc run $opt "$@" ;;
  esac
}

# The check bundle's process prints its cgroup and that group's memory.max
# (no cgroup namespace: the path is the host's, and /sys/fs/cgroup is the
# whole v2 hierarchy).
for name in keel crun runc; do
  out=$(rt $name --bundle /check check-$name 2>&1)
  echo "BENCH: $name: $out"
  group=$(echo "$out" | sed -n 's/^GROUP \([^ ]*\) .*/\1/p')
  limit=$(echo "$out" | sed -n 's/^GROUP [^ ]* //p')
  if [ -z "$group" ] || [ "$group" = / ]; then
    fail "$name ran the container in no cgroup of its own: $out"
  fi
  [ "$limit" = "$(cat /check/limit)" ] || fail "$name's group $group has memory.max $limit"
done

now_cs() { read -r up _ </proc/uptime && echo "${up%.*}${up#*.}"; }

# round NAME [N]: N (default RUNS) containers in a row; prints ms per
# container.
round() {
  n=${2:-$runs}
  start=$(now_cs)
  i=0
  while [ $i -lt "$n" ]; do
    i=$((i + 1))
    rt "$1" --bundle /bundle "bench-$i" >/dev/null || fail "$1 run failed"
  done
  end=$(now_cs)
  awk -v cs=$((end - start)) -v n="$n" 'BEGIN { printf "%.1f\n", cs * 10 / n }'
}

# A few warm-up runs each (page cache, first use of each binary).
for name in keel crun runc; do round "$name" 3 >/dev/null || finish 1; done
r=1
while [ $r -le "$rounds" ]; do
  # Each runtime goes first, second and third in turn.
  case $((r % 3)) in
    1) order="keel crun runc" ;;
    2) order="crun runc keel" ;;
    0) order="runc keel crun" ;;
  esac
  for name in $order; do
    ms=$(round "$name") || finish 1
    echo "BENCH: $name $r $ms"
  done
  r=$((r + 1))
done

for name in keel crun runc; do
  case $name in
    keel) /usr/bin/time -f %M -o /tmp/rss keel oci --root $state/keel run $opt --bundle /bundle rss >/dev/null ;;
    crun) /usr/bin/time -f %M -o /tmp/rss crun --root $state/crun run $opt --bundle /bundle rss >/dev/null ;;
    runc) /usr/bin/time -f %M -o /tmp/rss runc --root $state/runc run $opt --bundle /bundle rss >/dev/null ;;
  esac || fail "$name run under time failed"
  echo "BENCH_RSS: $name $(cat /tmp/rss)"
done
echo "BENCH: DONE"
finish 0
