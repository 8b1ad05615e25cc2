#!/usr/bin/env bash
# Benchmark: time from `keel patch load` to transition complete, against
# busybox insmod of the same module followed by a shell loop polling
# /sys/kernel/livepatch/<name>/transition, in the same VM (alternating rounds,
# the patch unloaded in between). The module is a real live patch built now
# against Debian's linux-headers for the kernel QEMU boots.
# Timestamps come from the kernel log (guest/livepatch_load.sh marks each step
# there): each step splits into the tool's work before the module's init, the
# kernel's transition (its once-a-second retry grid, the same for both tools)
# and the tool's latency after the kernel reported "patching complete".
# usage: tests/bench/livepatch_load.sh [KEEL_BINARY] [ROUNDS]   (default build/default/keel, 20)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
keel=${1:-$repo/build/default/keel}
rounds=${2:-20}
work=$(mktemp -d /tmp/keel-bench.XXXXXX)
trap '[ -n "${KEEL_BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT
# shellcheck source=../qemu/livepatch_modules.sh
source "$repo/tests/qemu/livepatch_modules.sh"

kver=$(lp_kernel_version)
lp_require_headers "$kver"
lp_build_patch "$work" klp_keel keel-livepatch-marker "$kver"
strip -o "$work/keel" "$keel"

"$repo/tools/keel-qemu" --keel "$work/keel" --busybox --timeout $((60 + rounds * 20)) \
  --file "$work/klp_keel.ko:/patches/klp_keel.ko" \
  --file "$repo/tests/bench/guest/livepatch_load.sh:/bench.sh" \
  --append "keel.run=\"/bin/sh /bench.sh $rounds\"" >"$work/console.log" 2>&1 ||
  { tr -d '\r' <"$work/console.log"; echo "boot failed" >&2; exit 1; }
grep -q 'BENCH: DONE' < <(tr -d '\r' <"$work/console.log") ||
  { tr -d '\r' <"$work/console.log"; echo "the benchmark did not finish" >&2; exit 1; }

# Console lines: "[   7.010912] BENCH_MARK: round=3 tool=keel start", the
# kernel's "livepatch: enabling patch 'klp_keel'" and "'klp_keel': patching
# complete", then "BENCH_MARK: ... done".
tr -d '\r' <"$work/console.log" | awk '
  function sort(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  }
  function median(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  function stamp(   s) { s = $0; sub(/^\[ */, "", s); sub(/\].*/, "", s); return s * 1000 }
  /BENCH_MARK: .* start/ { tool = $0; sub(/.*tool=/, "", tool); sub(/ .*/, "", tool); t0 = stamp(); t1 = t2 = 0 }
  /livepatch: enabling patch/ { t1 = stamp() }
  /: patching complete/ { t2 = stamp() }
  /BENCH_MARK: .* done/ {
    t3 = stamp(); n = ++count[tool]
    pre[tool, n] = t1 - t0; kern[tool, n] = t2 - t1; post[tool, n] = t3 - t2; total[tool, n] = t3 - t0
  }
  END {
    printf "livepatch_load: %d rounds each, medians in ms (from the kernel log timestamps):\n", count["keel"]
    printf "  %-28s %10s %12s %10s %8s %14s\n", "", "before init", "transition", "after it", "total", "tool total"
    for (k = 0; k < 2; k++) {
      tool = k ? "busybox" : "keel"; n = count[tool]
      for (i = 1; i <= n; i++) { a[i] = pre[tool, i]; b[i] = kern[tool, i]; c[i] = post[tool, i]; d[i] = total[tool, i]; e[i] = pre[tool, i] + post[tool, i] }
      m[tool] = median(e, n)
      printf "  %-28s %10.1f %12.1f %10.1f %8.1f %14.1f\n", k ? "busybox insmod + sysfs poll" : "keel patch load", median(a, n), median(b, n), median(c, n), median(d, n), m[tool]
    }
    printf "  keel/busybox, the tool total (before init + after completion): %.2f\n", m["keel"] / m["busybox"]
    printf "  (the transition is the kernel'"'"'s: it retries once a second on a whole-second grid)\n"
  }'
