#!/bin/sh
# Guest side of tests/bench/run_image_qemu.sh, under keel as PID 1 with
# cgroup v2 mounted: in a tmpfs root (tmpfs_root.sh), loads /image.tar into
# keel's image store and podman's, checks once that each runs a container
# of IMAGE in a cgroup of its own, then runs ROUNDS rounds alternating
# between them of RUNS `run --rm --network none IMAGE true` each, and
# prints one line per round and tool: "BENCH: <tool> <round> <ms per
# container>". Also each one's peak RSS for one run (GNU time's %M) as
# "BENCH_RSS: <tool> <kB>", and that of the process that waits for a
# running container as "BENCH_PARENT: <tool> <its name> <kB>". Then powers
# off.
# usage: run_image.sh ROUNDS RUNS IMAGE
exec >/dev/console 2>&1
# shellcheck source=tmpfs_root.sh
. /tmpfs_root.sh
enter_tmpfs_root "/bench.sh /tmpfs_root.sh /image.tar" /bench.sh "$@"
rounds=$1
runs=$2
image=$3
# podman reads its per-user configuration from $HOME; keel.run's
# environment has none.
export HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /root

root_type=$(awk '$5 == "/" {t = $0} END {sub(/.* - /, "", t); split(t, f, " "); print f[1]}' /proc/self/mountinfo)
echo "BENCH: root filesystem $root_type"
echo "BENCH: podman: $(podman --version)"

# tool NAME ARGS...: `run --rm --network none` ARGS with keel or podman.
tool() {
  name=$1
  shift
  case $name in
    keel) keel run --rm --network none "$@" ;;
    podman) podman run --rm --network none "$@" ;;
  esac
}

keel image load -i /image.tar >/dev/null || fail "keel image load failed"
out=$(podman load -i /image.tar 2>&1) || fail "podman load failed: $out"
# The same image in both stores: the same config digest.
keel_id=$(keel image ls | awk -v r="${image%:*}" '$1 == r {print $3}')
podman_id=$(podman images --noheading --format '{{.ID}}' "$image")
echo "BENCH: image ids: keel $keel_id, podman $podman_id"
if [ -z "$keel_id" ] || [ "$keel_id" != "$podman_id" ]; then
  fail "the stores disagree on $image: keel $keel_id, podman $podman_id"
fi

# Each one's container has a cgroup of its own: seen from outside (inside,
# a cgroup namespace shows "/"), in the /proc/PID/cgroup of a container's
# `sleep` that waits to be looked at, then is killed.
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
# sleep_pid SECS: the pid of a `busybox sleep SECS` (the image has no
# sleep link; the guest's busybox has no pgrep).
sleep_pid() {
  for d in /proc/[0-9]*; do
    if [ "$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" = "busybox sleep $1 " ]; then
      echo "${d#/proc/}"
      return
    fi
  done
}
secs=1000
for name in keel podman; do
  secs=$((secs + 1))
  tool $name "$image" busybox sleep $secs >/tmp/$name.out 2>&1 &
  bg=$!
  pid=
  i=0
  while [ -z "$pid" ] && [ $i -lt 240 ]; do
    sleep 0.5
    pid=$(sleep_pid $secs)
    i=$((i + 1))
  done
  [ -n "$pid" ] || fail "$name's container did not start within 2 minutes: $(cat /tmp/$name.out)"
  group=$(sed -n 's/^0:://p' /proc/"$pid"/cgroup)
  echo "BENCH: $name: container in cgroup $group"
  # What waits for the container (podman's conmon has left podman, so GNU
  # time below does not count it): its name and peak RSS so far.
  parent=$(awk '$1 == "PPid:" {print $2}' /proc/"$pid"/status)
  echo "BENCH_PARENT: $name $(cat /proc/"$parent"/comm) $(awk '$1 == "VmHWM:" {print $2}' /proc/"$parent"/status)"
  kill -9 "$pid"
  wait $bg
  if [ -z "$group" ] || [ "$group" = / ] || [ "$group" = "$own" ]; then
    fail "$name ran its container in no cgroup of its own ($group)"
  fi
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
    tool "$1" "$image" true >/dev/null || fail "$1 run failed"
  done
  end=$(now_cs)
  awk -v cs=$((end - start)) -v n="$n" 'BEGIN { printf "%.1f\n", cs * 10 / n }'
}

# A warm-up run each (page cache, first use of each binary).
for name in keel podman; do round "$name" 1 >/dev/null || finish 1; done
r=1
while [ $r -le "$rounds" ]; do
  case $((r % 2)) in
    1) order="keel podman" ;;
    0) order="podman keel" ;;
  esac
  for name in $order; do
    ms=$(round "$name") || finish 1
    echo "BENCH: $name $r $ms"
  done
  r=$((r + 1))
done

for name in keel podman; do
  case $name in
    keel) /usr/bin/time -f %M -o /tmp/rss keel run --rm --network none "$image" true >/dev/null ;;
    podman) /usr/bin/time -f %M -o /tmp/rss podman run --rm --network none "$image" true >/dev/null ;;
  esac || fail "$name run under time failed"
  echo "BENCH_RSS: $name $(cat /tmp/rss)"
done
# Nothing left behind by --rm.
left=$(keel ps -a -q; podman ps -a -q)
[ -z "$left" ] || fail "containers left after --rm: $left"
echo "BENCH: DONE"
finish 0
