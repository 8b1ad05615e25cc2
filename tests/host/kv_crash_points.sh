#!/usr/bin/env bash
# Crash points: a member killed (SIGKILL, from inside, base/crash_point.h)
# at a chosen point of its disk writes loses no acknowledged write, and its
# revision never goes back.
#
# For the points on the write path (before and after the log's fdatasync,
# before the store's batched commit, before a compaction's commit, in the
# middle of saving a snapshot) m1 is made leader, started with
# KEEL_CRASH_POINT=POINT, and written to (puts, one compaction) until the
# point kills it. Then m1 restarts ALONE (m2 and m3 stopped, so it can
# learn nothing from them): every put it acknowledged must be there, at
# its revision, and its revision must be no lower than the last it
# acknowledged. Then all three run again, take writes and agree on HashKV.
# For kv.snapshot.apply, m1 is stopped while the others take enough writes
# to compact their logs; restarted with the point, it dies applying the
# snapshot the leader sends, and must come back from it whole.
#
# usage: tests/host/kv_crash_points.sh SERVER_CMD [POINT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kv_cluster.sh
source "$here/kv_cluster.sh"

[ $# -ge 1 ] || { echo "usage: $0 SERVER_CMD [POINT]" >&2; exit 2; }
read -r -a server <<<"$1"
only=${2:-}
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl is not installed (apt-get install etcd-client)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }

work=$(mktemp -d /tmp/keel-kv-crash.XXXXXX)
cluster=""
cleanup() {
  [ -z "$cluster" ] || kv_cluster_stop "$cluster"
  rm -rf "$work"
}
trap cleanup EXIT
point=""
fail() {
  echo "FAIL: $point: $*" >&2
  [ -z "$cluster" ] || kv_cluster_print_logs "$cluster"
  exit 1
}

# Snapshots every 20 entries, so that saving one comes soon and a member
# that is behind gets one.
export KV_SERVER_FLAGS="--snapshot-count=20"

member_id() { kv_ctl "$cluster" member list | awk -F', ' -v n="$1" '$3 == n { print $1 }'; }
# relaunch NAME [POINT]: stops NAME and starts it again, with KEEL_CRASH_POINT=POINT.
relaunch() {
  kv_member_alive "$cluster" "$1" && kv_member_stop "$cluster" "$1"
  touch "$cluster/$1/killed" # may die on purpose: not a failure of the cluster
  KEEL_CRASH_POINT=${2:-} kv_member_launch "$cluster" "$1"
}
died_at() { ! kv_member_alive "$cluster" m1 && grep -q "crash point $point reached" "$cluster/m1/log"; }
wait_died() {
  for _ in $(seq 300); do died_at && return 0; sleep 0.1; done
  fail "m1 did not reach the crash point"
}
# m1 alone, from its own disk: every acknowledged put ($work/acked: KEY VALUE
# REVISION lines) is there, and its revision is no lower than the last one.
check_m1_alone() {
  kv_member_stop "$cluster" m2
  kv_member_stop "$cluster" m3
  kv_member_launch "$cluster" m1
  local tries
  for tries in $(seq 100); do
    kv_ctl_member "$cluster" m1 get crash/ --prefix --consistency=s -w json >"$work/m1.json" 2>/dev/null && break
    [ "$tries" -lt 100 ] || fail "m1 alone does not answer: $(tail -n 5 "$cluster/m1/log")"
    sleep 0.1
  done
  python3 - "$work/acked" "$work/m1.json" <<'PY' || fail "m1 lost acknowledged writes"
import base64, json, sys
acked = [line.split() for line in open(sys.argv[1]) if line.strip()]
d = json.load(open(sys.argv[2]))
have = {base64.b64decode(kv["key"]).decode(): (base64.b64decode(kv["value"]).decode(), int(kv["mod_revision"]))
        for kv in d.get("kvs", [])}
last = max((int(r) for _, _, r in acked), default=0)
revision = int(d["header"]["revision"])
bad = [(k, v, r) for k, v, r in acked if have.get(k) != (v, int(r))]
if bad or revision < last:
    print(f"m1 after the crash: revision {revision}, last acknowledged {last}; missing or wrong: {bad[:5]}", file=sys.stderr)
    sys.exit(1)
print(f"m1 alone: {len(acked)} acknowledged puts there, revision {revision} >= {last}")
PY
  kv_member_launch "$cluster" m2
  kv_member_launch "$cluster" m3
  rm -f "$cluster"/m*/killed
  kv_cluster_wait_healthy "$cluster" 30 || fail "the cluster did not come back"
}
# Every member takes a write and ends with the same HashKV.
check_agree() {
  [ "$(kv_ctl "$cluster" put crash/after ok)" = OK ] || fail "a put after the restart"
  local rev name hashes
  rev=$(kv_ctl_member "$cluster" m2 get crash/after -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
  for _ in $(seq 50); do
    hashes=""
    for name in m1 m2 m3; do
      hashes+="$(kv_ctl_member "$cluster" "$name" endpoint hashkv --rev="$rev" -w json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["HashKV"]["hash"])' 2>/dev/null || echo none) "
    done
    [ "$(tr ' ' '\n' <<<"$hashes" | grep -v '^$' | sort -u | wc -l)" = 1 ] && ! grep -q none <<<"$hashes" && return 0
    sleep 0.2
  done
  fail "the members disagree at revision $rev: $hashes"
}

# Which hit of each point kills m1: late enough that it has acknowledged
# puts (each put is a log sync; a snapshot comes every 20 entries).
declare -A hit=([kv.wal.before_sync]=40 [kv.wal.after_sync]=40 [kv.store.flush]=3 [kv.compact]=1
  [kv.snapshot.save]=2 [kv.snapshot.apply]=1)

write_path_point() {
  relaunch m1 "$point:${hit[$point]}"
  kv_cluster_wait_healthy "$cluster" 30 || fail "m1 did not start with the crash point armed"
  kv_ctl "$cluster" move-leader "$(member_id m1)" >/dev/null 2>&1 || true
  local i out
  : >"$work/acked"
  for i in $(seq 1 200); do
    # A put that fails while m1 lives (a leader change) is not acknowledged:
    # the next one goes on.
    if ! out=$(kv_ctl_member "$cluster" m1 put "crash/k$i" "v$i" -w json 2>/dev/null); then
      died_at && break
      continue
    fi
    echo "crash/k$i v$i $(python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])' <<<"$out")" >>"$work/acked"
    if [ "$point" = kv.compact ] && [ "$i" -ge 10 ]; then
      kv_ctl_member "$cluster" m1 compact 5 >/dev/null 2>&1 || true # it dies in it, or tries again
    fi
    died_at && break
  done
  wait_died
  echo "m1 died at $point after $(wc -l <"$work/acked") acknowledged puts"
  check_m1_alone
  check_agree
}

snapshot_apply_point() {
  kv_member_stop "$cluster" m1
  # m1 may have been the leader: the others elect one first.
  kv_cluster_wait_healthy "$cluster" 30 || fail "m2 and m3 did not go on without m1"
  local i
  : >"$work/acked"
  for i in $(seq 1 60); do
    kv_ctl "$cluster" put "crash/k$i" "v$i" >/dev/null || fail "put $i while m1 is down"
  done
  relaunch m1 "$point:${hit[$point]}"
  wait_died
  echo "m1 died at $point"
  kv_member_launch "$cluster" m1
  rm -f "$cluster"/m*/killed
  kv_cluster_wait_healthy "$cluster" 30 || fail "m1 did not come back from the snapshot"
  check_agree
  [ "$(kv_ctl_member "$cluster" m1 get crash/k60 --print-value-only --consistency=s)" = v60 ] ||
    fail "m1 does not have the snapshot's writes"
}

points=(kv.wal.before_sync kv.wal.after_sync kv.store.flush kv.compact kv.snapshot.save kv.snapshot.apply)
if [ -n "$only" ]; then
  grep -qx "$only" < <(printf '%s\n' "${points[@]}") || { echo "unknown point $only (points: ${points[*]})" >&2; exit 2; }
  points=("$only")
fi
for point in "${points[@]}"; do
  cluster=$work/$point
  kv_cluster_start "$cluster" 3 "${server[@]}" || fail "cluster start"
  kv_cluster_wait_healthy "$cluster" 30 || fail "the cluster did not become healthy"
  if [ "$point" = kv.snapshot.apply ]; then snapshot_apply_point; else write_path_point; fi
  kv_cluster_stop "$cluster"
  cluster=""
  echo "PASS: $point"
done
