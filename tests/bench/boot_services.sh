#!/usr/bin/env bash
# Benchmark: 50 trivial services (sleep 10NN), time from PID 1 start (the
# kernel's "Run /init") to all of them started, and PID 1's RSS after, for
# keel and for busybox init starting the same 50 processes from an inittab,
# in the same QEMU setup. Both ends are kernel log timestamps (one clock;
# CLOCK_BOOTTIME runs some 25 ms behind it under TCG). PID 1's RSS comes
# from /proc/1/smaps_rollup, which counts pages from the page tables
# (VmRSS lags by the kernel's per-thread counter batching). Rounds
# alternate; medians, their ratio, and the median and range of each
# round's own ratio are printed (the host's noise moves single boots by
# tens of percent: use 15 rounds or more for a figure to quote).
# Target (issue 4): keel within 1.5x of busybox init, PID 1 RSS under 4 MB.
# usage: tests/bench/boot_services.sh KEEL_BINARY [ROUNDS]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
keel=${1:?usage: $0 KEEL_BINARY [ROUNDS]}
rounds=${2:-3}
work=$(mktemp -d /tmp/keel-bench.XXXXXX)
[ -n "${KEEP:-}" ] && echo "work: $work" >&2 || trap 'rm -rf "$work"' EXIT
guest=$repo/tests/bench/guest

# Extra kernel command line for both sides, e.g. BENCH_APPEND=quiet.
append=()
[ -z "${BENCH_APPEND:-}" ] || append=(--append "$BENCH_APPEND")

unit_args=()
for i in $(seq -w 1 50); do
  printf '[Unit]\nDescription=bench service %s\n[Service]\nExecStart=/bin/sleep 10%s\n[Install]\nWantedBy=multi-user.target\n' \
    "$i" "$i" >"$work/svc$i.service"
  unit_args+=(--unit "$work/svc$i.service"
    --file "$work/svc$i.service:/etc/keel/units/multi-user.target.wants/svc$i.service")
done

# boot NAME ARGS...: one boot; prints "SECONDS RSS_KB" (start-to-all-started, PID 1 RSS).
boot() {
  local name=$1 log="$work/$1.log" start done rss
  shift
  "$repo/tools/keel-qemu" --busybox --timeout 120 --log "$log" \
    --file "$guest/report.sh:/report.sh" "$@" >/dev/null 2>&1 ||
    { tr -d '\r' <"$log" | tail -n 30 >&2; echo "$name: boot failed" >&2; return 1; }
  stamp() { tr -d '\r' <"$log" | sed -n "s/^BENCH: log \[ *\([0-9.]*\)\] $1.*/\1/p" | head -n 1; }
  start=$(stamp 'Run \/init as init process')
  if [ "$name" = keel ]; then done=$(stamp 'keel: startup finished: '); else done=$(stamp 'BENCH: all started'); fi
  rss=$(tr -d '\r' <"$log" | sed -n 's/.*BENCH: running=50 Rss: \([0-9]*\) kB.*/\1/p' | head -n 1)
  [ -n "$start" ] && [ -n "$done" ] && [ -n "$rss" ] ||
    { tr -d '\r' <"$log" | tail -n 30 >&2; echo "$name: markers missing" >&2; return 1; }
  awk -v s="$start" -v d="$done" -v r="$rss" 'BEGIN { printf "%.3f %d\n", d - s, r }'
}

for round in $(seq "$rounds"); do
  boot keel --keel "$keel" "${unit_args[@]}" "${append[@]}" \
    --append 'keel.run="/bin/sh /report.sh keel"' >>"$work/keel.results"
  boot busybox --init-script "$guest/busybox_init.sh" "${append[@]}" >>"$work/busybox.results"
  echo "round $round: keel $(tail -n 1 "$work/keel.results"), busybox $(tail -n 1 "$work/busybox.results") (seconds, PID 1 RSS kB)" >&2
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Each round's keel/busybox ratio: the two boots of a round run back to back,
# so a slow spell of the host weighs on both sides of it.
paste -d' ' "$work/keel.results" "$work/busybox.results" |
  awk '{ printf "%.3f\n", ($3 > 0 ? $1 / $3 : 0) }' | sort -n >"$work/ratios"
k_time=$(cut -d' ' -f1 "$work/keel.results" | median)
b_time=$(cut -d' ' -f1 "$work/busybox.results" | median)
k_rss=$(cut -d' ' -f2 "$work/keel.results" | median)
b_rss=$(cut -d' ' -f2 "$work/busybox.results" | median)
r_median=$(median <"$work/ratios")
r_low=$(head -n 1 "$work/ratios")
r_high=$(tail -n 1 "$work/ratios")
awk -v kt="$k_time" -v bt="$b_time" -v kr="$k_rss" -v br="$b_rss" -v n="$rounds" \
  -v rm="$r_median" -v rl="$r_low" -v rh="$r_high" 'BEGIN {
  printf "boot_services (50 services, %d rounds, medians): keel %.3f s, busybox init %.3f s, ratio %.2f (target <= 1.5); per-round ratios: median %.2f, range %.2f-%.2f; PID 1 RSS keel %.2f MB, busybox %.2f MB (target < 4 MB)\n",
    n, kt, bt, (bt > 0 ? kt / bt : 0), rm, rl, rh, kr / 1024, br / 1024 }'
