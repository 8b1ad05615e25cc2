#!/bin/sh
# Guest side of tests/bench/livepatch_load.sh: $1 rounds each, alternating,
# of `keel patch load` (which returns when the transition is complete) and
# busybox insmod followed by a shell loop polling
# /sys/kernel/livepatch/klp_keel/transition every 10 ms. The patch is
# unloaded (untimed) between rounds.
#
# Timing is by the kernel log: a BENCH_MARK line before and after each step,
# next to the kernel's own "enabling patch" and "patching complete", all with
# printk timestamps from one clock. The host splits each step into the
# tool's work before the module's init, the kernel's transition, and the
# tool's latency after it completed.
#
# The kernel retries an incomplete transition on its whole-second grid
# (round_jiffies), and rounds that follow each other lock onto that grid;
# each step starts after a random pause so both tools see the same phases.
exec >/dev/console 2>&1
rounds=${1:-20}
name=klp_keel
module=/patches/klp_keel.ko

mark() { echo "<5>BENCH_MARK: $*" >/dev/kmsg; }
pause() { usleep $((RANDOM % 1000 * 1000)); } # 0-999 ms ($RANDOM is 0-32767)

fail() {
  echo "BENCH: FAIL: $*"
  keel poweroff
  exit 1
}

unload() {
  keel patch unload "$name" >/dev/null 2>&1 || fail "unload after round $1"
}

i=1
while [ "$i" -le "$rounds" ]; do
  pause
  mark "round=$i tool=keel start"
  keel patch load "$module" >/dev/null 2>&1 || fail "keel patch load"
  mark "round=$i tool=keel done"
  unload "$i"

  pause
  mark "round=$i tool=busybox start"
  insmod "$module" || fail "insmod"
  while [ "$(cat /sys/kernel/livepatch/$name/transition 2>/dev/null)" != 0 ]; do
    usleep 10000
  done
  mark "round=$i tool=busybox done"
  unload "$i"
  i=$((i + 1))
done
echo "BENCH: DONE"
keel poweroff
