#!/usr/bin/env bash
# Benchmark: an etcd-compatible KV server against etcd 3.4, side by side on
# this machine. Both run as 3-member clusters on 127.0.0.1 (started by
# tests/host/kv_cluster.sh with the same etcd flags, data under the same
# directory), and tests/go/kvbench (etcd's Go client) drives each in turn
# with the same workloads:
#   put-1, put-100, put-1000   puts of 256-byte values with 1/100/1000 clients
#   get-l-100, get-s-100       linearizable / serializable gets, 100 clients
#   watch-10k                  10,000 watchers on one prefix (100 streams),
#                              200 puts one after another, unpaced: events
#                              delivered a second over all watchers (fan-out)
#                              and put-to-event latency; every event delivered.
#                              With the watchers open (before the puts) the
#                              members' RSS is taken: bytes a watcher = RSS
#                              growth of all members / watchers
# RUNS rounds (the order of the sides alternates between rounds); the table
# shows each figure's median over the rounds and the ratio server/etcd
# (ops/s: above 1 means the server is faster; latency: below 1 means it is
# faster), the CPU time (user + system) all members spent during each run
# per op (on a machine others load, throughput follows the share of CPU a
# side gets; CPU per op does not), then each member's resident set (VmRSS)
# after the rounds.
#
# usage: tests/bench/kv.sh [--quick] [--runs N] [--out FILE] SERVER_CMD [BASELINE_CMD]
#   tests/bench/kv.sh --quick etcd                 CI smoke: 1 round of 1-second runs,
#                                                  1,000 watchers (about a minute)
#   tests/bench/kv.sh "build/musl/keel kv serve"   the full run by hand: 3 rounds of
#                                                  10-second runs (about 10 minutes)
# Measure the keel users get: the musl build (preset `musl`). The glibc
# builds allocate faster and give other figures.
# SERVER_CMD and BASELINE_CMD (default etcd) are split on spaces. --out keeps
# kvbench's JSON lines (each with "side" and "round" added). KV_BENCH_DIR
# says where the members' data goes (default: a new directory in /tmp).
# Exits non-zero if a workload fails (errors, or events not delivered).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../host/kv_cluster.sh
source "$repo/tests/host/kv_cluster.sh"

quick=0
runs=3
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; runs=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--quick] [--runs N] [--out FILE] SERVER_CMD [BASELINE_CMD]" >&2; exit 2; }
server_cmd=$1
baseline_cmd=${2:-etcd}
command -v etcdctl >/dev/null || { echo "etcdctl is not installed (apt-get install etcd-client)" >&2; exit 1; }

work=$(mktemp -d "${KV_BENCH_DIR:-/tmp}/keel-kv-bench.XXXXXX")
cleanup() {
  kv_cluster_stop "$work/server"
  kv_cluster_stop "$work/etcd"
  rm -rf "$work"
}
trap cleanup EXIT

echo "building kvbench..." >&2
"$repo/tests/go/build.sh" "$work/bin" >&2

if [ "$quick" = 1 ]; then
  duration=1s key_space=1000 watchers=1000 watch_puts=200
else
  duration=10s key_space=10000 watchers=10000 watch_puts=200
fi
workloads=(
  "put-1|-workload put -clients 1"
  "put-100|-workload put -clients 100"
  "put-1000|-workload put -clients 1000"
  "get-l-100|-workload get -consistency l -clients 100"
  "get-s-100|-workload get -consistency s -clients 100"
  "watch-$((watchers / 1000))k|-workload watch -watchers $watchers -puts $watch_puts -put-rate 0 -settle 2s -ready-file $work/ready"
)

read -r -a server <<<"$server_cmd"
read -r -a baseline <<<"$baseline_cmd"
kv_cluster_start "$work/etcd" 3 "${baseline[@]}"
kv_cluster_start "$work/server" 3 "${server[@]}"
kv_cluster_wait_healthy "$work/etcd" 30
kv_cluster_wait_healthy "$work/server" 30

results=$work/results.jsonl
failed=0
# side_rss_kib SIDE: the members' VmRSS added up.
side_rss_kib() {
  local total=0 name
  for name in $(kv_members "$work/$1"); do
    total=$((total + $(kv_member_rss_kib "$work/$1" "$name")))
  done
  echo "$total"
}

# side_cpu_ticks SIDE: the members' user + system CPU time so far, in clock
# ticks, added up.
side_cpu_ticks() {
  local total=0 name
  for name in $(kv_members "$work/$1"); do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$(kv_member_pid "$work/$1" "$name")/stat")))
  done
  echo "$total"
}

# bench SIDE ROUND NAME ARGS...: one kvbench run, its line into $results.
# A watch run's RSS growth while its watchers are open (kvbench creates
# $work/ready then, and waits before its puts) goes in as rss_growth_kib.
bench() {
  local side=$1 round=$2 name=$3 line rss_before growth="" waited cpu_before cpu_ticks
  shift 3
  rm -f "$work/ready"
  rss_before=$(side_rss_kib "$side")
  cpu_before=$(side_cpu_ticks "$side")
  # shellcheck disable=SC2068 # the workload's flags are words
  "$work/bin/kvbench" -endpoints "$(kv_endpoints "$work/$side")" -duration "$duration" \
    -key-space "$key_space" $@ >"$work/kvbench.out" 2>"$work/kvbench.err" &
  local pid=$!
  if [[ " $* " == *" -ready-file "* ]]; then
    for waited in $(seq 600); do # 60 s at most
      [ -e "$work/ready" ] || ! kill -0 "$pid" 2>/dev/null && break
      sleep 0.1
    done
    [ -e "$work/ready" ] && growth=$(($(side_rss_kib "$side") - rss_before))
  fi
  if ! wait "$pid"; then
    echo "kvbench $name against $side failed: $(cat "$work/kvbench.out") $(tail -n 5 "$work/kvbench.err")" >&2
    failed=1
  fi
  cpu_ticks=$(($(side_cpu_ticks "$side") - cpu_before))
  line=$(cat "$work/kvbench.out")
  [ -n "$line" ] || return 0
  echo "$line" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
r.update(side=sys.argv[1], round=int(sys.argv[2]), name=sys.argv[3])
if sys.argv[4]:
    r.update(rss_growth_kib=int(sys.argv[4]))
if r.get("ops"):
    r.update(cpu_us_per_op=int(sys.argv[5]) * 1e6 / int(sys.argv[6]) / r["ops"])
print(json.dumps(r))' "$side" "$round" "$name" "$growth" "$cpu_ticks" "$(getconf CLK_TCK)" >>"$results"
  echo "  $side $name: $line" >&2
}

for round in $(seq "$runs"); do
  sides=(etcd server)
  [ $((round % 2)) = 0 ] && sides=(server etcd)
  echo "round $round of $runs" >&2
  for workload in "${workloads[@]}"; do
    for side in "${sides[@]}"; do
      bench "$side" "$round" "${workload%%|*}" "${workload#*|}"
    done
  done
done

for side in etcd server; do
  for name in $(kv_members "$work/$side"); do
    echo "{\"side\":\"$side\",\"member\":\"$name\",\"rss_kib\":$(kv_member_rss_kib "$work/$side" "$name")}" >>"$results"
  done
done
[ -z "$out" ] || cp "$results" "$out"

python3 - "$results" "$server_cmd" "$baseline_cmd" "$runs" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
server, baseline, runs = sys.argv[2], sys.argv[3], sys.argv[4]
print(f"server: {server}   etcd: {baseline}   medians of {runs} round(s)")
names = []
for r in rows:
    if "name" in r and r["name"] not in names:
        names.append(r["name"])
def med(side, name, field):
    v = [r[field] for r in rows if r.get("side") == side and r.get("name") == name]
    return statistics.median(v) if v else float("nan")
def ratio(a, b):
    return a / b if b else float("nan")
head = (f"{'workload':<11}{'etcd ops/s':>12}{'server ops/s':>14}{'ratio':>7}  {'etcd p50/p99 ms':>17}  "
        f"{'server p50/p99 ms':>19}{'p99 ratio':>10}  {'CPU us/op etcd/server':>22}")
print(head)
print("-" * len(head))
for n in names:
    eo, so = med("etcd", n, "ops_per_sec"), med("server", n, "ops_per_sec")
    e50, e99 = med("etcd", n, "p50_ms"), med("etcd", n, "p99_ms")
    s50, s99 = med("server", n, "p50_ms"), med("server", n, "p99_ms")
    ec, sc = med("etcd", n, "cpu_us_per_op"), med("server", n, "cpu_us_per_op")
    print(f"{n:<11}{eo:>12.0f}{so:>14.0f}{ratio(so, eo):>7.2f}  {e50:>8.2f}/{e99:<8.2f}  {s50:>9.2f}/{s99:<9.2f}{ratio(s99, e99):>10.2f}"
          f"  {ec:>11.1f}/{sc:<10.1f}")
print("(watch: ops/s are events delivered a second, latency from put to event; CPU: user +")
print(" system time of all members during the run, per op: the measure a loaded machine disturbs least)")
for n in names:
    if not any("rss_growth_kib" in r for r in rows if r.get("name") == n):
        continue
    per = {}
    for side in ("etcd", "server"):
        v = [r["rss_growth_kib"] * 1024 / r["watchers"] for r in rows
             if r.get("side") == side and r.get("name") == n and "rss_growth_kib" in r]
        per[side] = statistics.median(v) if v else float("nan")
    print(f"{n}: bytes a watcher (RSS growth of all members with the watchers open / watchers): "
          f"etcd {per['etcd']:.0f}  server {per['server']:.0f}")
rss = {}
for r in rows:
    if "rss_kib" in r:
        rss.setdefault(r["side"], []).append((r["member"], r["rss_kib"]))
for side in ("etcd", "server"):
    members = "  ".join(f"{m} {k / 1024:.0f}" for m, k in rss.get(side, []))
    print(f"RSS MiB {side:<7} {members}   total {sum(k for _, k in rss.get(side, [])) / 1024:.0f}")
e, s = sum(k for _, k in rss.get("etcd", [])), sum(k for _, k in rss.get("server", []))
print(f"RSS ratio server/etcd {ratio(s, e):.2f}")
PY
exit "$failed"
