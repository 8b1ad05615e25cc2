#!/usr/bin/env bash
# Three machines reboot into an update one at a time through the cluster's
# reboot lock (max=1), each giving its unit back only after its health gate.
# A "machine" is `keel init --container` in its own PID namespace (its
# control socket, a health unit web.service) and a disk image file whose
# ROOT-B is on trial (made by Debian's cgpt). All three run `keel update
# reboot` (RebootStrategy=kv-lock) against one `keel kv serve` member: one
# takes the lock and its init is asked to reboot (the namespace ends), the
# other two wait. That machine "comes back" (its init again) and runs
# `keel update agent --once`: only once web.service has been active for
# HealthyFor is ROOT-B marked successful and the lock given back, and only
# then does the next machine get it.
# usage: update_agent_lock.sh KEEL_BINARY
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kv_cluster.sh
source "$here/kv_cluster.sh"

[ $# -eq 1 ] || { echo "usage: $0 KEEL_BINARY" >&2; exit 2; }
keel=$(realpath "$1")
export PATH="$PATH:/usr/sbin:/sbin"
for tool in cgpt unshare; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (apt-get install cgpt util-linux)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for PID namespaces"; exit 77; }

work=$(mktemp -d /tmp/keel-update-agent-lock.XXXXXX)
cluster=$work/cluster
declare -A init_pid=() reboot_pid=()
cleanup() {
  for pid in "${init_pid[@]}" "${reboot_pid[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  kv_cluster_stop "$cluster" 2>/dev/null || true
  rm -rf -- "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: update_agent_lock: $*" >&2
  for m in m1 m2 m3; do
    for log in "$work/$m"/*.log; do [ -f "$log" ] && { echo "----- $log" >&2; cat "$log" >&2; }; done
  done
  kv_cluster_print_logs "$cluster" || true
  exit 1
}

kv_cluster_start "$cluster" 1 "$keel" kv serve
kv_cluster_wait_healthy "$cluster" || fail "the KV did not come up"
endpoint=$(kv_member_endpoint "$cluster" m1)
holders() { "$keel" update lock status --json --endpoint "$endpoint" | sed 's/.*"holders":\[\(.*\)\].*/\1/; s/"//g'; }
held() { [ -n "$(holders)" ]; }

# Waits (bounded, tenths of a second) until the command succeeds.
wait_for() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# A machine: units (web.service, wanted by multi-user.target), update.conf
# and a disk whose B was installed and booted once (no tries left).
make_machine() {
  local dir=$work/$1
  mkdir -p "$dir/units/multi-user.target.wants"
  cat >"$dir/units/web.service" <<'UNIT'
[Service]
ExecStart=/bin/sleep 3600
UNIT
  ln -s ../web.service "$dir/units/multi-user.target.wants/web.service"
  cat >"$dir/update.conf" <<CONF
[Update]
HealthUnits=web
HealthyFor=3s
HealthTimeout=1min
RebootStrategy=kv-lock
KVEndpoints=$endpoint
CONF
  truncate -s 8M "$dir/disk.img"
  cgpt create "$dir/disk.img" 2>/dev/null
  cgpt add -b 2048 -s 4096 -t rootfs -l ROOT-A -P 1 -T 0 -S 1 "$dir/disk.img"
  cgpt add -b 6144 -s 4096 -t rootfs -l ROOT-B -P 2 -T 0 -S 0 "$dir/disk.img"
  cgpt add -b 10240 -s 4096 -t data -l STATE "$dir/disk.img"
}

# boot M: M's init, in the background, until it is asked to reboot.
boot() {
  local dir=$work/$1
  rm -f "$dir/init.sock"
  (exec unshare --pid --fork --kill-child --mount-proc "$keel" init --container \
    --control-socket "$dir/init.sock" --units "$dir/units" -- sleep 3600 >>"$dir/init.log" 2>&1) &
  init_pid[$1]=$!
  wait_for 100 test -S "$dir/init.sock" || fail "$1's control socket never appeared"
}
running() { kill -0 "${init_pid[$1]}" 2>/dev/null; }
as_machine() { local m=$1; shift; KEEL_CONTROL_SOCKET=$work/$m/init.sock "$keel" "$@"; }

for m in m1 m2 m3; do make_machine $m; boot $m; done
[ -z "$(holders)" ] || fail "the lock is held before anyone asked: $(holders)"

# An update is installed on all three: each asks to reboot by the strategy.
for m in m1 m2 m3; do
  (as_machine $m update reboot --config "$work/$m/update.conf" --no-kernel-command-line \
    --id $m --lock-backoff 1 >"$work/$m/reboot.log" 2>&1) &
  reboot_pid[$m]=$!
done

done_machines=()
for round in 1 2 3; do
  # Exactly one machine holds the lock, and it is the one whose init went down.
  wait_for 150 held || fail "round $round: nobody took the lock"
  first=$(holders)
  [[ "$first" != *,* ]] || fail "round $round: more than one holder with max=1: $first"
  wait_for 100 eval '! running '"$first" || fail "round $round: $first holds the lock but its init was not asked to reboot"
  wait "${reboot_pid[$first]}" || fail "round $round: $first's keel update reboot failed"
  unset "reboot_pid[$first]"
  for m in m1 m2 m3; do
    [ "$m" = "$first" ] && continue
    [[ " ${done_machines[*]} " == *" $m "* ]] && continue
    running $m || fail "round $round: $m rebooted while $first held the lock"
  done

  # It comes back on B, and runs its health gate; the others keep waiting
  # while it does.
  boot "$first"
  (as_machine "$first" update agent --once --config "$work/$first/update.conf" \
    --no-kernel-command-line --disk "$work/$first/disk.img" --slot B --id "$first" \
    >"$work/$first/agent.log" 2>&1) &
  agent=$!
  sleep 1.5
  [ "$(holders)" = "$first" ] || fail "round $round: the lock changed during $first's health gate: $(holders)"
  [ "$(cgpt show -i 2 -S "$work/$first/disk.img")" = 0 ] || fail "round $round: $first's B marked good before HealthyFor"
  wait "$agent" || fail "round $round: $first's agent failed"
  grep -q 'slot B is healthy: marked successful' "$work/$first/agent.log" || fail "round $round: $first's agent: $(cat "$work/$first/agent.log")"
  [ "$(cgpt show -i 2 -S "$work/$first/disk.img")" = 1 ] || fail "round $round: $first's ROOT-B is not successful (cgpt)"
  [ "$(cgpt show -i 2 -P "$work/$first/disk.img")" = 2 ] || fail "round $round: $first's ROOT-B priority changed"
  done_machines+=("$first")
  # The lock is free again (or already the next machine's).
  wait_for 50 eval '[ "$(holders)" != "'"$first"'" ]' || fail "round $round: $first kept the lock after its health gate"
  kill -KILL "${init_pid[$first]}" 2>/dev/null || true
done

[ "$(printf '%s\n' "${done_machines[@]}" | sort | tr '\n' ' ')" = "m1 m2 m3 " ] || fail "machines in turn: ${done_machines[*]}"
[ -z "$(holders)" ] || fail "the lock is still held at the end: $(holders)"
for m in m1 m2 m3; do
  grep -q "reboot lock taken by $m" "$work/$m/reboot.log" || fail "$m's reboot log: $(cat "$work/$m/reboot.log")"
done
# The two that had to wait said why.
waited=$(grep -l 'the reboot lock is taken' "$work"/m*/reboot.log | wc -l)
[ "$waited" -ge 2 ] || fail "only $waited machines logged waiting for the lock"
echo "PASS: update_agent_lock (in turn: ${done_machines[*]})"
