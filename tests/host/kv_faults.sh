#!/usr/bin/env bash
# Fault injection for the KV (issue #14, "linearizable under faults"): a
# 3-member cluster of SERVER_CMD on 127.0.0.1 (tests/host/kv_cluster.sh)
# runs tests/go/kvhistory's clients and watcher while this script pauses
# (SIGSTOP/SIGCONT) and kills (SIGKILL, then a restart on the same data
# directory) members on a seeded random schedule, the leader about half the
# time, one fault at a time, and — run as root with ip(8), nft(8) and
# unshare(1) — partitions a member from the other two while clients still
# reach it. Afterwards the history goes to
# keel_check_history and the watch log to keel_check_watches; the run fails
# on a violation and prints the commands that check the kept files again
# and that rerun the same schedule.
#
# usage: tests/host/kv_faults.sh SERVER_CMD [CHECKERS_DIR]
#   tests/host/kv_faults.sh "build/debug/keel kv serve" build/debug/tests/cluster
#   KV_FAULTS_SECONDS=1800 KV_FAULTS_OPS=10000000 tests/host/kv_faults.sh etcd
# CHECKERS_DIR holds keel_check_history and keel_check_watches (default
# build/debug/tests/cluster).
# Environment:
#   KV_FAULTS_SECONDS   workload time (default 20)
#   KV_FAULTS_OPS       operations at most (default 20000)
#   KV_FAULTS_CLIENTS   concurrent clients (default 6)
#   KV_FAULTS_KEYS      keys (default 8)
#   KV_FAULTS_CHECK_SECONDS  the linearizability check's time budget (60)
#   KV_FAULTS_STRICT=1  a check that runs out of budget fails the run
#   KV_FAULTS_SEED      seed of the schedule and the workload (default random)
#   KV_FAULTS_STALE_READS=1  the workload's gets are serializable: a run that
#                       must FAIL, proving the harness catches stale reads
#   KV_FAULTS_KEEP      directory the history, watch log, fault log and
#                       member logs are copied to (always; on failure they
#                       are kept under /tmp anyway)
#   KV_GO_BIN           a directory with a built kvhistory (skips the build)
#   KV_FAULTS_NET       `netns` (the default as root): the script re-runs
#                       itself in a new network namespace holding a bridge,
#                       each member in a namespace of its own on a veth
#                       (10.99.0.N), and a partition is an nft bridge rule
#                       dropping what is forwarded to and from the member's
#                       port (clients, on the bridge, still reach it);
#                       `loopback`: 127.0.0.1, no partitions
# Skips (77) without Go, etcd's client sources or etcdctl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kv_cluster.sh
source "$here/kv_cluster.sh"
[ $# -ge 1 ] || { echo "usage: $0 SERVER_CMD [CHECKERS_DIR]" >&2; exit 2; }
read -r -a server <<<"$1"
checkers=${2:-$here/../../build/debug/tests/cluster}
for tool in keel_check_history keel_check_watches; do
  [ -x "$checkers/$tool" ] || { echo "$checkers/$tool is missing (build target $tool)" >&2; exit 2; }
done
command -v go >/dev/null || [ -n "${KV_GO_BIN:-}" ] || { echo "SKIP: go is not installed (apt-get install golang-go)"; exit 77; }
[ -n "${KV_GO_BIN:-}" ] || [ -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ] ||
  { echo "SKIP: etcd's client sources are missing (apt-get install golang-etcd-server-dev)"; exit 77; }
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl is not installed (apt-get install etcd-client)"; exit 77; }

net=${KV_FAULTS_NET:-}
if [ -z "$net" ]; then
  net=loopback
  if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && command -v nft >/dev/null && command -v unshare >/dev/null; then
    net=netns
  else
    echo "note: not root or no ip/nft/unshare: no partitions, members on 127.0.0.1" >&2
  fi
fi
if [ "$net" = netns ] && [ -z "${KV_FAULTS_IN_NETNS:-}" ]; then
  exec unshare -n env KV_FAULTS_IN_NETNS=1 KV_FAULTS_NET=netns "$0" "$@"
fi

seconds=${KV_FAULTS_SECONDS:-20}
ops=${KV_FAULTS_OPS:-20000}
clients=${KV_FAULTS_CLIENTS:-6}
keys=${KV_FAULTS_KEYS:-8}
seed=${KV_FAULTS_SEED:-$((RANDOM * 32768 + RANDOM + 1))}
stale=()
[ "${KV_FAULTS_STALE_READS:-0}" = 1 ] && stale=(-stale-reads)
RANDOM=$seed

work=$(mktemp -d /tmp/keel-kv-faults.XXXXXX)
cluster=$work/cluster
status=1
namespaces=()
finish() {
  kv_cluster_stop "$cluster" || true
  local ns
  for ns in "${namespaces[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  if [ -n "${KV_FAULTS_KEEP:-}" ]; then
    mkdir -p "$KV_FAULTS_KEEP"
    cp "$work"/history "$work"/watches "$work"/faults "$work"/*.out "$KV_FAULTS_KEEP"/ 2>/dev/null || true
    for m in m1 m2 m3; do cp "$cluster/$m/log" "$KV_FAULTS_KEEP/$m.log" 2>/dev/null || true; done
  fi
  if [ "$status" -eq 0 ]; then rm -rf "$work"; else echo "kept: $work" >&2; fi
}
trap finish EXIT

bin=${KV_GO_BIN:-$work/bin}
[ -n "${KV_GO_BIN:-}" ] || "$here/../go/build.sh" "$bin" >/dev/null
# In netns mode: this namespace (made by unshare above) holds bridge kvbr
# at 10.99.0.254, member i is namespace keel-faults-PID-mi behind veth kvvi
# at 10.99.0.i. The bridge family's forward hook sees only what passes
# between members, so a partition leaves the clients' path alone.
if [ "$net" = netns ]; then
  ip link set lo up
  ip link add kvbr type bridge
  ip addr add 10.99.0.254/24 dev kvbr
  ip link set kvbr up
  hosts=""
  for i in 1 2 3; do
    ns=keel-faults-$$-m$i
    ip netns add "$ns"
    namespaces+=("$ns")
    ip link add "kvv$i" type veth peer name eth0 netns "$ns"
    ip link set "kvv$i" master kvbr up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "10.99.0.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    hosts+=" 10.99.0.$i"
  done
  nft add table bridge keel_faults
  nft add chain bridge keel_faults partition '{ type filter hook forward priority 0; }'
  export KV_MEMBER_HOSTS=$hosts KV_MEMBER_NETNS="${namespaces[*]}"
fi
kv_cluster_start "$cluster" 3 "${server[@]}"
kv_cluster_wait_healthy "$cluster" 30

log_fault() { echo "$(date -u +%T.%N | cut -c1-12) $*" | tee -a "$work/faults" >&2; }

# The member that says it leads, or a random one when none answers.
leader_or_random() {
  local name status_line
  for name in $(kv_members "$cluster"); do
    status_line=$(kv_ctl_member "$cluster" "$name" --command-timeout=1s endpoint status 2>/dev/null || true)
    # endpoint, id, version, db size, is leader, ...
    if [ "$(echo "$status_line" | awk -F', ' '{ print $5 }')" = true ]; then
      echo "$name"
      return
    fi
  done
  echo "m$((RANDOM % 3 + 1))"
}

# One fault, then the cluster is whole again: pause, kill or (netns mode)
# partition a member (the leader half the time) for 0.5 to 3 s.
inject_fault() {
  local target hold kind kinds=2
  [ "$net" = netns ] && kinds=3
  if [ $((RANDOM % 2)) -eq 0 ]; then target=$(leader_or_random); else target="m$((RANDOM % 3 + 1))"; fi
  hold=$((RANDOM % 26 + 5))
  hold="$((hold / 10)).$((hold % 10))"
  kind=$((RANDOM % kinds))
  if [ "$kind" -eq 2 ]; then
    log_fault "partition $target for ${hold}s"
    nft add rule bridge keel_faults partition iifname "kvv${target#m}" drop
    nft add rule bridge keel_faults partition oifname "kvv${target#m}" drop
    sleep "$hold"
    nft flush chain bridge keel_faults partition
    log_fault "heal $target"
  elif [ "$kind" -eq 0 ]; then
    log_fault "pause $target for ${hold}s"
    kv_member_pause "$cluster" "$target"
    sleep "$hold"
    kv_member_resume "$cluster" "$target"
    log_fault "resume $target"
  else
    log_fault "kill $target for ${hold}s"
    kv_member_kill "$cluster" "$target"
    sleep "$hold"
    kv_member_restart "$cluster" "$target"
    log_fault "restart $target"
  fi
}

log_fault "seed $seed: ${seconds}s, $ops ops, $clients clients, $net${stale:+, stale reads}"
"$bin/kvhistory" -endpoints "$(kv_endpoints "$cluster")" -history "$work/history" -watches "$work/watches" \
  -clients "$clients" -keys "$keys" -ops "$ops" -duration "${seconds}s" -seed "$seed" "${stale[@]}" 2>"$work/kvhistory.out" &
workload=$!
sleep 1
while kill -0 "$workload" 2>/dev/null; do
  inject_fault
  sleep "0.$((RANDOM % 9 + 1))"
done
workload_status=0
wait "$workload" || workload_status=$?
grep '^kvhistory:' "$work/kvhistory.out" >&2 || true
if [ "$workload_status" -ne 0 ]; then
  tail -n 30 "$work/kvhistory.out" >&2
  kv_cluster_print_logs "$cluster"
  echo "FAIL: kvhistory exited $workload_status" >&2
  exit 1
fi
# Every member must be up again and the cluster serve within 30 s of the
# last fault (liveness); the histories are checked either way.
failed=0
for name in $(kv_members "$cluster"); do
  kv_member_alive "$cluster" "$name" || { echo "FAIL: member $name died" >&2; failed=1; }
done
if [ "$failed" -eq 0 ] && ! kv_cluster_wait_healthy "$cluster" 30; then
  echo "FAIL: the cluster did not recover within 30 s of the last fault" >&2
  failed=1
fi

# The checker's search is exponential in the unknown writes open on one
# key: when its budget runs out with nothing found, the run says so and
# passes (KV_FAULTS_STRICT=1: fails); a violation found always fails.
if ! "$checkers/keel_check_history" --max-seconds "${KV_FAULTS_CHECK_SECONDS:-60}" "$work/history" \
  >"$work/check_history.out" 2>&1; then
  echo "--- keel_check_history" >&2
  head -n 60 "$work/check_history.out" >&2
  if grep -q '^unknown: budget exhausted' < <(head -n 1 "$work/check_history.out") && [ "${KV_FAULTS_STRICT:-0}" != 1 ]; then
    echo "INCONCLUSIVE: the linearizability check ran out of budget (no violation found)" >&2
  else
    failed=1
  fi
fi
if ! "$checkers/keel_check_watches" "$work/watches" >"$work/check_watches.out" 2>&1; then
  echo "--- keel_check_watches" >&2
  head -n 30 "$work/check_watches.out" >&2
  failed=1
fi
head -q -n 1 "$work/check_history.out" "$work/check_watches.out" >&2
if [ "$failed" -ne 0 ]; then
  echo "--- faults" >&2
  cat "$work/faults" >&2
  kv_cluster_print_logs "$cluster"
  echo "check again:  $checkers/keel_check_history $work/history; $checkers/keel_check_watches $work/watches" >&2
  echo "rerun:        KV_FAULTS_SEED=$seed KV_FAULTS_SECONDS=$seconds KV_FAULTS_OPS=$ops KV_FAULTS_CLIENTS=$clients KV_FAULTS_KEYS=$keys KV_FAULTS_NET=$net${stale:+ KV_FAULTS_STALE_READS=1} $0 \"$1\" $checkers" >&2
  echo "FAIL: seed $seed" >&2
  exit 1
fi
status=0
echo "PASS: seed $seed" >&2
