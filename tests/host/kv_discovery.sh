#!/usr/bin/env bash
# Cluster discovery (--discovery-token, --discovery-endpoints) seen from
# outside: a discovery service on 127.0.0.1 (Debian's real etcd, or one
# `keel kv serve`), the token's size put with etcdctl, then three members of
# SERVER_CMD started with the token alone form one cluster (etcdctl: three
# started members, a put on one read on another); a fourth member with the
# same token is refused with discovery's message and exits non-zero without
# registering; a member killed between registering and making its log
# joins when started again (and is refused once its data dir is lost); a
# member restarts on its data dir with the discovery service gone; and a
# data dir started with another token is refused, its log left as it was.
#
# usage: tests/host/kv_discovery.sh SERVER_CMD CASE
#   CASE etcd_service: the discovery service is `etcd`
#   CASE keel_service: the discovery service is SERVER_CMD itself
# SERVER_CMD is split on spaces ("build/debug/keel kv serve").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kv_cluster.sh
source "$here/kv_cluster.sh"

[ $# -eq 2 ] || { echo "usage: $0 SERVER_CMD etcd_service|keel_service" >&2; exit 2; }
read -r -a server <<<"$1"
case_name=$2
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl is not installed (apt-get install etcd-client)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
case $case_name in
  etcd_service)
    command -v etcd >/dev/null || { echo "SKIP: etcd is not installed (apt-get install etcd-server)"; exit 77; }
    service=(etcd) ;;
  keel_service) service=("${server[@]}") ;;
  *) echo "unknown case $case_name" >&2; exit 2 ;;
esac

work=$(mktemp -d /tmp/keel-kv-discovery.XXXXXX)
disco=$work/disco
cluster=$work/cluster
# The second token's members (a member stopped between registering and
# making its log).
early_cluster=$work/early
cleanup() {
  kv_cluster_stop "$work/cluster"
  kv_cluster_stop "$early_cluster"
  kv_cluster_stop "$disco"
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $case_name: $*" >&2
  kv_cluster_print_logs "$disco"
  kv_cluster_print_logs "$work/cluster"
  kv_cluster_print_logs "$early_cluster"
  exit 1
}

token="disc-$$-$RANDOM"
registry="/_etcd/registry/$token"

# The discovery service: a one-member cluster of its own.
kv_cluster_start "$disco" 1 "${service[@]}"
kv_cluster_wait_healthy "$disco" || fail "the discovery service did not start"
discovery_endpoint=$(kv_endpoints "$disco")
[ "$(kv_ctl "$disco" put "$registry/_config/size" 3)" = OK ] || fail "put the size"

# member_args NAME TOKEN: a member of $cluster started through discovery
# (its ports picked once, kept in $cluster/NAME as kv_cluster.sh keeps them).
member_args() {
  local name=$1 member_token=$2 client peer
  client=$(cat "$cluster/$name/client_port")
  peer=$(cat "$cluster/$name/peer_port")
  printf '%s\n' --name "$name" --data-dir "$cluster/$name/data" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --discovery-token "$member_token" --discovery-endpoints "http://$discovery_endpoint" \
    --discovery-wait-timeout 30s
}

new_member() {
  local name=$1 ports
  mapfile -t ports < <(kv_free_ports 2)
  mkdir -p "$cluster/$name"
  echo "${ports[0]}" >"$cluster/$name/client_port"
  echo "${ports[1]}" >"$cluster/$name/peer_port"
}

# launch NAME [TOKEN [ENV...]]: starts member NAME in the background,
# counted in $cluster, with the environment's ENV (NAME=VALUE) added.
launch() {
  local name=$1 member_token=${2:-$token} args
  shift $(($# < 2 ? $# : 2))
  mapfile -t args < <(member_args "$name" "$member_token")
  echo "=== $(date -u +%T) start $name" >>"$cluster/$name/log"
  env "$@" "${server[@]}" "${args[@]}" >>"$cluster/$name/log" 2>&1 </dev/null &
  echo $! >"$cluster/$name/pid"
  rm -f "$cluster/$name/killed"
  grep -qx "$name" "$cluster/members" 2>/dev/null || echo "$name" >>"$cluster/members"
}

mkdir -p "$cluster"
for name in m1 m2 m3; do new_member "$name"; done
for name in m1 m2 m3; do launch "$name"; done
kv_cluster_wait_healthy "$cluster" 40 || fail "the discovered cluster did not become healthy"

# etcdctl's member list: three started members (a member not started yet
# shows "unstarted" and no name), as seen from every member.
started_members() {
  kv_ctl_member "$cluster" "$1" member list 2>/dev/null |
    awk -F', ' '$2 == "started" { print $3 }' | sort | tr '\n' ' '
}
for name in m1 m2 m3; do
  for _ in $(seq 100); do [ "$(started_members "$name")" = "m1 m2 m3 " ] && break; sleep 0.1; done
  [ "$(started_members "$name")" = "m1 m2 m3 " ] ||
    fail "member list on $name: $(kv_ctl_member "$cluster" "$name" member list 2>&1)"
done
[ "$(kv_ctl_member "$cluster" m1 put greeting hello)" = OK ] || fail "put on m1"
[ "$(kv_ctl_member "$cluster" m3 get greeting --print-value-only)" = hello ] || fail "get on m3"
registered=$(kv_ctl "$disco" get --prefix "$registry/members/" --keys-only | grep -c . || true)
[ "$registered" = 3 ] || fail "the registry holds $registered members, not 3"
echo "PASS: three members formed one cluster through discovery"

# A fourth member with the same token: refused, non-zero, not registered.
new_member m4
mapfile -t args < <(member_args m4 "$token")
status=0
timeout 60 "${server[@]}" "${args[@]}" >"$work/m4.out" 2>&1 </dev/null || status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "the fourth member exited with $status: $(cat "$work/m4.out")"
grep -q "discovery: cluster of size 3 for token $token is already full: " "$work/m4.out" ||
  fail "the fourth member's message: $(cat "$work/m4.out")"
grep -q "fresh --discovery-token" "$work/m4.out" || fail "no fix in: $(cat "$work/m4.out")"
grep -q -- "--initial-cluster-state=existing" "$work/m4.out" || fail "no fix in: $(cat "$work/m4.out")"
[ ! -e "$cluster/m4/data/wal" ] || fail "the refused member made a log"
registered=$(kv_ctl "$disco" get --prefix "$registry/members/" --keys-only | grep -c . || true)
[ "$registered" = 3 ] || fail "the refused member registered: $registered members"
echo "PASS: a fourth member is refused: $(grep -o 'discovery: cluster of size 3[^:]*full' "$work/m4.out")"

# A member stopped (killed) right after it registered, before it made its
# log, while the others formed the cluster without it: started again on the
# same data dir it joins as the member the others expect, since it never
# ran. With its data dir lost instead, it is refused as stale.
cluster=$early_cluster
token2="early-$$-$RANDOM"
[ "$(kv_ctl "$disco" put "/_etcd/registry/$token2/_config/size" 3)" = OK ] || fail "put the second size"
mkdir -p "$cluster"
for name in n1 n2 n3; do new_member "$name"; done
# (In a subshell, so that its SIGKILL is no job notice of this shell's.)
(launch n3 "$token2" KEEL_CRASH_POINT=kv.discovery.registered)
for _ in $(seq 100); do kv_member_alive "$cluster" n3 || break; sleep 0.1; done
! kv_member_alive "$cluster" n3 || fail "n3 did not stop at its crash point"
touch "$cluster/n3/killed"
grep -q 'crash point kv.discovery.registered' "$cluster/n3/log" || fail "n3 stopped elsewhere: $(tail -n 3 "$cluster/n3/log")"
[ -e "$cluster/n3/data/discovery-registration" ] || fail "n3's data dir does not record its registration"
[ ! -e "$cluster/n3/data/wal" ] || fail "n3 made a log before its crash point"
launch n1 "$token2"
launch n2 "$token2"
for i in $(seq 100); do
  [ "$(kv_ctl_member "$cluster" n1 put early yes 2>/dev/null)" = OK ] && break
  [ "$i" -lt 100 ] || fail "n1 and n2 formed no cluster without n3"
  sleep 0.3
done
launch n3 "$token2"
for i in $(seq 100); do
  [ "$(kv_ctl_member "$cluster" n3 get early --print-value-only --consistency=s 2>/dev/null)" = yes ] && break
  [ "$i" -lt 100 ] || fail "n3 did not join after its restart: $(tail -n 5 "$cluster/n3/log")"
  sleep 0.3
done
grep -q 'registered from data dir .* before it made a log: it starts now' "$cluster/n3/log" ||
  fail "n3 did not say why it starts: $(tail -n 5 "$cluster/n3/log")"
[ ! -e "$cluster/n3/data/discovery-registration" ] || fail "n3 kept its registration note after making its log"
[ "$(started_members n1)" = "n1 n2 n3 " ] || fail "member list on n1: $(kv_ctl_member "$cluster" n1 member list 2>&1)"
kv_member_stop "$cluster" n3
rm -rf "$cluster/n3/data"
mapfile -t args < <(member_args n3 "$token2")
status=0
timeout 60 "${server[@]}" "${args[@]}" >"$work/n3.out" 2>&1 </dev/null || status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "n3 without its data exited with $status: $(cat "$work/n3.out")"
grep -q "holds no log: this member's data was lost, or the token is reused" "$work/n3.out" ||
  fail "n3 without its data: $(cat "$work/n3.out")"
kv_cluster_stop "$cluster"
cluster=$work/cluster
echo "PASS: a member stopped between registering and making its log joins when started again; without its data dir it is refused"

# Without the discovery service, a member restarts on its data dir.
kv_cluster_stop "$disco"
kv_member_stop "$cluster" m2
launch m2
kv_cluster_wait_healthy "$cluster" 40 || fail "m2 did not restart without the discovery service"
[ "$(kv_ctl_member "$cluster" m2 get greeting --print-value-only)" = hello ] || fail "get on m2 after its restart"
[ "$(kv_ctl_member "$cluster" m2 put after restart)" = OK ] || fail "put on m2 after its restart"
[ "$(kv_ctl_member "$cluster" m1 get after --print-value-only)" = restart ] || fail "get on m1 of m2's put"
echo "PASS: a member restarts on its data dir without the discovery service"

# m3's data dir started with another token: refused, and its log untouched.
kv_member_stop "$cluster" m3
wal_before=$(cd "$cluster/m3/data/wal" && sha256sum -- *)
mapfile -t args < <(member_args m3 "other-$token")
status=0
timeout 60 "${server[@]}" "${args[@]}" >"$work/m3.out" 2>&1 </dev/null || status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "m3 with another token exited with $status: $(cat "$work/m3.out")"
grep -q "discovery: data dir $cluster/m3/data belongs to member " "$work/m3.out" ||
  fail "m3 with another token: $(cat "$work/m3.out")"
[ "$(cd "$cluster/m3/data/wal" && sha256sum -- *)" = "$wal_before" ] || fail "the refused start changed m3's log"
echo "PASS: a data dir bootstrapped with another token is refused"
