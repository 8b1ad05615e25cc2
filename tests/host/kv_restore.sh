#!/usr/bin/env bash
# Disaster recovery as etcd users do it, with keel's snapshot restore:
# a 3-member cluster of `KEEL kv serve` on 127.0.0.1 gets keys (several
# revisions, a deleted key, a compaction, a lease), Debian's etcdctl 3.4
# saves a snapshot from one member, `KEEL kv snapshot restore` makes three
# new data dirs from it, and a new 3-member cluster (new ports, a new
# token) starts on them. etcdctl then checks the new cluster against the
# old one: every key with its value and revisions, the revision, the
# history and compaction, the lease with its keys, HashKV at the
# snapshot's revision (and `keel kv snapshot status`'s hash), a member
# list of the new members only, a different cluster id, that writes go on
# from the snapshot's revision, and that a restored member restarts.
#
# usage: tests/host/kv_restore.sh KEEL [CASE]
#   restore   the above
#   refusals  a snapshot with a byte flipped, one cut short, one without
#             its trailer (taken with --skip-hash-check only), a data dir
#             that is not empty, a name missing from --initial-cluster:
#             each refused with what is wrong, nothing written
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kv_cluster.sh
source "$here/kv_cluster.sh"

[ $# -ge 1 ] || { echo "usage: $0 KEEL [CASE]" >&2; exit 2; }
keel=$1
only=${2:-}
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl is not installed (apt-get install etcd-client)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }

work=$(mktemp -d /tmp/keel-kv-restore.XXXXXX)
clusters=()
cleanup() {
  local dir
  for dir in "${clusters[@]}"; do kv_cluster_stop "$dir"; done
  rm -rf "$work"
}
trap cleanup EXIT

case_name=""
fail() {
  local dir
  echo "FAIL: $case_name: $*" >&2
  for dir in "${clusters[@]}"; do kv_cluster_print_logs "$dir"; done
  exit 1
}
pass() { echo "PASS: $case_name"; }

# json EXPRESSION: a Python expression over the JSON document on stdin,
# bound to `d`; b64(s) decodes etcd's base64 byte strings.
json() {
  python3 -c '
import base64, json, sys
def b64(s): return base64.b64decode(s).decode()
d = json.load(sys.stdin)
print(eval(sys.argv[1]))
' "$1"
}

# The keys of a cluster as etcdctl reads them, one a line: key, value,
# create and mod revision, version, lease.
all_keys() {
  kv_ctl "$1" get "" --prefix -w json |
    json '"\n".join("%s=%s c%d m%d v%d l%x" % (b64(k["key"]), b64(k["value"]), k["create_revision"], k["mod_revision"], k["version"], k.get("lease", 0)) for k in d.get("kvs", []))'
}

revision() { kv_ctl_member "$1" m1 get nothing -w json | json 'd["header"]["revision"]'; }
cluster_id() { kv_ctl_member "$1" m1 endpoint status -w json | json 'd[0]["Status"]["header"]["cluster_id"]'; }

# A running 3-member cluster ($work/old) with the keys every case uses;
# the lease's id (hex) in $work/lease.
start_old_cluster() {
  local dir=$work/old lease
  clusters+=("$dir")
  kv_cluster_start "$dir" 3 "$keel" kv serve || fail "old cluster start"
  kv_cluster_wait_healthy "$dir" 30 || fail "the old cluster did not become healthy"
  kv_ctl "$dir" put a 1 >/dev/null       # 2
  kv_ctl "$dir" put a 2 >/dev/null       # 3
  kv_ctl "$dir" put gone x >/dev/null    # 4
  kv_ctl "$dir" del gone >/dev/null      # 5
  kv_ctl "$dir" put b 'two words' >/dev/null # 6
  kv_ctl "$dir" compact 3 >/dev/null
  lease=$(kv_ctl "$dir" lease grant 600 | awk '{ print $2 }')
  kv_ctl "$dir" put leased held --lease="$lease" >/dev/null # 7
  kv_ctl "$dir" put a 3 >/dev/null       # 8
  echo "$lease" >"$work/lease"
}

# restore_member SNAPSHOT NEW NAME: `keel kv snapshot restore` of SNAPSHOT
# into NEW's member NAME's data dir.
restore_member() {
  local snapshot=$1 dir=$2 name=$3
  "$keel" kv snapshot restore "$snapshot" --name "$name" --data-dir "$dir/$name/data" \
    --initial-cluster "$(cat "$dir/initial_cluster")" \
    --initial-cluster-token "$(cat "$dir/token")" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(cat "$dir/$name/peer_port")"
}

case_restore() {
  local old=$work/old new=$work/new lease old_keys old_revision old_cluster old_hash name
  start_old_cluster
  lease=$(cat "$work/lease")
  old_keys=$(all_keys "$old")
  old_revision=$(revision "$old")
  [ "$old_revision" = 8 ] || fail "the old cluster is at revision $old_revision, not 8"
  old_cluster=$(cluster_id "$old")
  old_hash=$(kv_ctl_member "$old" m1 endpoint hashkv -w json | json 'd[0]["HashKV"]["hash"]')
  kv_ctl_member "$old" m1 snapshot save "$work/snap.db" >"$work/out" 2>&1 ||
    fail "snapshot save: $(cat "$work/out")"

  "$keel" kv snapshot status "$work/snap.db" -w json >"$work/status" || fail "snapshot status"
  [ "$(json '"%d %d" % (d["revision"], d["hash"])' <"$work/status")" = "8 $old_hash" ] ||
    fail "snapshot status: $(cat "$work/status"), expected revision 8 and hash $old_hash"
  "$keel" kv snapshot status "$work/snap.db" -w table >"$work/table" || fail "snapshot status -w table"
  # (The HASH column is as wide as the hash in hex: 7 digits for one in
  # 16 snapshots.)
  grep -Eq '^\| +HASH +\| REVISION \| TOTAL KEYS \| TOTAL SIZE \|$' "$work/table" &&
    grep -Eq "^\| $(printf %x "$old_hash") +\| +8 \|" "$work/table" ||
    fail "snapshot status -w table: $(cat "$work/table")"
  # The old cluster stays up: its members must not mix with the new one.

  clusters+=("$new")
  kv_cluster_prepare "$new" 3 "$keel" kv serve || fail "new cluster files"
  for name in m1 m2 m3; do
    restore_member "$work/snap.db" "$new" "$name" >"$work/out" 2>&1 ||
      fail "restore $name: $(cat "$work/out")"
    grep -q "^Restored snapshot $work/snap.db (revision 8) into $new/$name/data: member " "$work/out" ||
      fail "restore $name printed: $(cat "$work/out")"
  done
  for name in m1 m2 m3; do kv_member_launch "$new" "$name"; done
  kv_cluster_wait_healthy "$new" 30 || fail "the restored cluster did not become healthy"

  [ "$(all_keys "$new")" = "$old_keys" ] ||
    fail "the keys differ:"$'\n'"--- old"$'\n'"$old_keys"$'\n'"--- restored"$'\n'"$(all_keys "$new")"
  [ "$(revision "$new")" = 8 ] || fail "the restored cluster is at revision $(revision "$new")"
  [ "$(kv_ctl "$new" get a --rev=3 --print-value-only)" = 2 ] || fail "history: a at revision 3"
  kv_ctl "$new" get a --rev=2 >"$work/out" 2>&1 && fail "revision 2 was compacted, but: $(cat "$work/out")"
  grep -q "required revision has been compacted" "$work/out" || fail "get --rev=2: $(cat "$work/out")"
  [ -z "$(kv_ctl "$new" get gone)" ] || fail "the deleted key is back"
  local hash
  hash=$(kv_ctl_member "$new" m2 endpoint hashkv -w json | json 'd[0]["HashKV"]["hash"]')
  [ "$hash" = "$old_hash" ] || fail "HashKV at revision 8: $hash, the old cluster's $old_hash"

  kv_ctl "$new" lease timetolive "$lease" --keys >"$work/out" || fail "lease timetolive"
  grep -q "lease $lease granted with TTL(600s), remaining([0-9]*s), attached keys(\[leased\])" "$work/out" ||
    fail "the lease: $(cat "$work/out")"

  kv_ctl_member "$new" m1 member list -w json >"$work/members" || fail "member list"
  local want_urls got_urls
  want_urls=$(for name in m1 m2 m3; do echo "$name http://127.0.0.1:$(cat "$new/$name/peer_port")"; done)
  got_urls=$(json '"\n".join(sorted("%s %s" % (m["name"], ",".join(m["peerURLs"])) for m in d["members"]))' <"$work/members")
  [ "$got_urls" = "$want_urls" ] || fail "member list:"$'\n'"$got_urls"$'\n'"--- expected"$'\n'"$want_urls"
  local new_cluster
  new_cluster=$(cluster_id "$new")
  [ "$new_cluster" != "$old_cluster" ] || fail "the restored cluster kept the old cluster id $old_cluster"
  [ "$(json 'd["header"]["cluster_id"]' <"$work/members")" = "$new_cluster" ] ||
    fail "member list's cluster id is not the new one's"

  kv_ctl "$new" put after restore >/dev/null || fail "a put on the restored cluster"
  [ "$(revision "$new")" = 9 ] || fail "the put after the restore is not revision 9"
  [ "$(kv_ctl "$new" get after --print-value-only)" = restore ] || fail "the put after the restore"
  [ "$(revision "$old")" = 8 ] || fail "the old cluster moved to revision $(revision "$old")"
  # A restored member restarts from its data dir like any other.
  kv_member_restart "$new" m2
  kv_cluster_wait_healthy "$new" 30 || fail "m2 did not come back after a restart"
  [ "$(kv_ctl_member "$new" m2 get after --print-value-only)" = restore ] ||
    fail "m2 after its restart"
  pass
}

# expect_refused WHAT TEXT COMMAND...: COMMAND fails, its stderr has TEXT,
# and $work/target (the data dir asked for) holds what it held before.
expect_refused() {
  local what=$1 text=$2 before
  shift 2
  before=$(ls -A "$work/target" 2>/dev/null || echo absent)
  if "$@" >"$work/out" 2>&1; then fail "$what: succeeded: $(cat "$work/out")"; fi
  grep -qF -- "$text" "$work/out" || fail "$what: expected \"$text\" in: $(cat "$work/out")"
  [ "$(ls -A "$work/target" 2>/dev/null || echo absent)" = "$before" ] || fail "$what: $work/target changed"
  [ ! -e "$work/target.restoring" ] || fail "$what: left $work/target.restoring"
}

case_refusals() {
  start_old_cluster
  kv_ctl_member "$work/old" m1 snapshot save "$work/snap.db" >"$work/out" 2>&1 ||
    fail "snapshot save: $(cat "$work/out")"
  python3 - "$work/snap.db" "$work/flipped.db" "$work/cut.db" "$work/bare.db" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
flipped = bytearray(data)
flipped[100] ^= 0x01
open(sys.argv[2], "wb").write(flipped)
open(sys.argv[3], "wb").write(data[:200])
open(sys.argv[4], "wb").write(data[:-32])
PY
  restore() { "$keel" kv snapshot restore "$@" --data-dir "$work/target"; }
  expect_refused "a byte flipped" "snapshot \`$work/flipped.db\`: the SHA-256 trailer does not match the rest of the file" \
    restore "$work/flipped.db"
  expect_refused "status of a byte flipped" "the SHA-256 trailer does not match" \
    "$keel" kv snapshot status "$work/flipped.db"
  expect_refused "cut short" "the file is 200 bytes: a saved snapshot is a multiple of 512 bytes" \
    restore "$work/cut.db"
  expect_refused "cut short, without the hash check" "MVCC snapshot:" \
    restore "$work/cut.db" --skip-hash-check
  expect_refused "no trailer" "--skip-hash-check reads it without the trailer" \
    restore "$work/bare.db"
  expect_refused "a name not in --initial-cluster" "couldn't find local name \`nobody\`" \
    restore "$work/snap.db" --name nobody
  expect_refused "--skip-hash-check with a value that is no boolean" \
    "--skip-hash-check: expected true or false, got \`maybe\`" \
    restore "$work/bare.db" --skip-hash-check=maybe
  expect_refused "status in an output format etcdctl does not have" \
    "--write-out: expected simple, table or json, got \`yaml\`" \
    "$keel" kv snapshot status "$work/snap.db" -w yaml
  [ ! -e "$work/target" ] || fail "a refused restore made $work/target"
  restore "$work/bare.db" --skip-hash-check >"$work/out" 2>&1 ||
    fail "--skip-hash-check on a snapshot without its trailer: $(cat "$work/out")"
  [ -d "$work/target/wal" ] || fail "--skip-hash-check: no data dir made"
  expect_refused "a data dir that is not empty" "data dir \`$work/target\` exists and is not empty" \
    restore "$work/snap.db"
  pass
}

cases=(restore refusals)
if [ -n "$only" ]; then
  grep -qx "$only" < <(printf '%s\n' "${cases[@]}") || { echo "unknown case $only (cases: ${cases[*]})" >&2; exit 2; }
  cases=("$only")
fi
for case_name in "${cases[@]}"; do
  rm -rf "${work:?}"/*
  "case_$case_name"
  for dir in "${clusters[@]}"; do kv_cluster_stop "$dir"; done
  clusters=()
done
