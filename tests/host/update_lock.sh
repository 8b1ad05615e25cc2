#!/usr/bin/env bash
# The cluster's reboot lock (`keel update lock`) against a real etcd v3 KV:
# a 1-member cluster of SERVER_CMD on 127.0.0.1 (`keel kv serve`, or etcd to
# prove the test), the value read back with Debian's etcdctl. Checks
# locksmith's key and JSON, a second take by the same machine (no change),
# a take refused when the lock is full, release, set-max, groups, a value
# that does not parse, and 12 machines taking a 3-unit lock at once (the
# compare-and-swap lets exactly 3 in).
# usage: update_lock.sh KEEL_BINARY SERVER_CMD
#   tests/host/update_lock.sh build/debug/keel "build/debug/keel kv serve"
#   tests/host/update_lock.sh build/debug/keel etcd
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kv_cluster.sh
source "$here/kv_cluster.sh"

[ $# -eq 2 ] || { echo "usage: $0 KEEL_BINARY SERVER_CMD" >&2; exit 2; }
keel=$(realpath "$1")
read -r -a server <<<"$2"
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl is not installed (apt-get install etcd-client)"; exit 77; }

work=$(mktemp -d /tmp/keel-update-lock.XXXXXX)
cluster=$work/cluster
trap 'kv_cluster_stop "$cluster" 2>/dev/null || true; rm -rf -- "$work"' EXIT
fail() {
  echo "FAIL: update_lock: $*" >&2
  kv_cluster_print_logs "$cluster" || true
  exit 1
}

kv_cluster_start "$cluster" 1 "${server[@]}"
kv_cluster_wait_healthy "$cluster" || fail "the KV did not come up"
endpoint=$(kv_member_endpoint "$cluster" m1)
key=coreos.com/updateengine/rebootlock/semaphore
lock() { "$keel" update lock "$@" --endpoint "$endpoint"; }
value() { ETCDCTL_API=3 etcdctl --endpoints "$endpoint" get --print-value-only "$1"; }

# Nothing stored: the default, and nothing written by looking.
[ "$(lock status --json)" = '{"semaphore":1,"max":1,"holders":[]}' ] || fail "status of no key: $(lock status --json)"
[ -z "$(value "$key")" ] || fail "status wrote $(value "$key")"

out=$(lock take --id m1) || fail "take m1: $out"
[ "$(value "$key")" = '{"semaphore":0,"max":1,"holders":["m1"]}' ] || fail "after take m1: $(value "$key")"
# The same machine again: it holds it, nothing changes (locksmith says "semaphore is at 0").
rev=$(ETCDCTL_API=3 etcdctl --endpoints "$endpoint" get -w json "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["mod_revision"])')
lock take --id m1 >/dev/null || fail "a second take by m1 was refused"
rev2=$(ETCDCTL_API=3 etcdctl --endpoints "$endpoint" get -w json "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["mod_revision"])')
[ "$rev" = "$rev2" ] || fail "a second take by m1 wrote the key again ($rev -> $rev2)"
lock take --id m2 2>"$work/err" && fail "m2 took a full lock"
grep -q 'the reboot lock is taken: 1 of 1 held, by m1' "$work/err" || fail "refusal: $(cat "$work/err")"

lock release --id m1 >/dev/null || fail "release m1"
[ "$(value "$key")" = '{"semaphore":1,"max":1,"holders":[]}' ] || fail "after release: $(value "$key")"
lock release --id m1 >/dev/null || fail "a second release by m1 failed"
lock set-max --max 3 >/dev/null || fail "set-max 3"
[ "$(value "$key")" = '{"semaphore":3,"max":3,"holders":[]}' ] || fail "after set-max: $(value "$key")"

# 12 machines at once on a 3-unit lock: exactly 3 get in.
racers=()
for i in $(seq 1 12); do
  (lock take --id "racer$i" >"$work/race$i.out" 2>&1 && echo ok >"$work/race$i.status" || echo refused >"$work/race$i.status") &
  racers+=($!)
done
wait "${racers[@]}" # not the KV's members, which run in the background too
won=$(cat "$work"/race*.status | grep -c '^ok$' || true)
[ "$won" = 3 ] || fail "$won of 12 racers took a 3-unit lock: $(value "$key")"
python3 - "$(value "$key")" <<'PY' || fail "after the race: $(value "$key")"
import json, sys
v = json.loads(sys.argv[1])
assert v["semaphore"] == 0 and v["max"] == 3 and len(v["holders"]) == 3, v
PY
other=$(grep -L 'the reboot lock is taken: 3 of 3 held' $(grep -l refused "$work"/race*.status | sed 's/status$/out/') || true)
[ -z "$other" ] || fail "a refused racer said something else: $(cat "$work"/race*.out)"
lock set-max --max 2 2>"$work/err" && fail "set-max below the holders was accepted"
grep -q '3 machines hold the reboot lock' "$work/err" || fail "set-max refusal: $(cat "$work/err")"

# A group's lock is its own key.
lock take --group db --id m1 >/dev/null || fail "take in group db"
[ "$(value coreos.com/updateengine/rebootlock/groups/db/semaphore)" = '{"semaphore":0,"max":1,"holders":["m1"]}' ] \
  || fail "group db: $(value coreos.com/updateengine/rebootlock/groups/db/semaphore)"

# A value that is not a semaphore is refused, not overwritten.
ETCDCTL_API=3 etcdctl --endpoints "$endpoint" put "$key" '{"semaphore":5,"max":1}' >/dev/null
lock take --id m9 2>"$work/err" && fail "a broken value was taken over"
grep -q 'semaphore 5 and 0 holders do not add up to max 1' "$work/err" || fail "broken value: $(cat "$work/err")"
[ "$(value "$key")" = '{"semaphore":5,"max":1}' ] || fail "the broken value was changed: $(value "$key")"

# No KV at all: the error names the endpoint.
"$keel" update lock status --endpoint 127.0.0.1:1 2>"$work/err" && fail "status without a KV succeeded"
grep -q '127.0.0.1:1' "$work/err" || fail "no KV: $(cat "$work/err")"
echo "PASS: update_lock"
