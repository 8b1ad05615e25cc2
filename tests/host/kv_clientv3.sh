#!/usr/bin/env bash
# etcd compatibility of a KV server through etcd's Go client: builds
# tests/go/kvclient (tests/go/build.sh; about 45 s cold) and runs its checks
# against a 3-member cluster of SERVER_CMD on 127.0.0.1
# (tests/host/kv_cluster.sh). Skips when Go or etcd's client sources are
# missing (tools/setup.sh installs golang-go and golang-etcd-server-dev).
# usage: tests/host/kv_clientv3.sh SERVER_CMD [CHECK]
#   tests/host/kv_clientv3.sh etcd
#   tests/host/kv_clientv3.sh "build/debug/keel kv serve" watch
# Set KV_GO_BIN to a directory holding a built kvclient to skip the build.
# Checks: kv_ranges revisions txn_compares watch lease_stream concurrent_txns cluster
#   progress_notify fragment
# The cluster runs with a 500 ms --experimental-watch-progress-notify-interval
# so that progress_notify sees one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kv_cluster.sh
source "$here/kv_cluster.sh"
[ $# -ge 1 ] || { echo "usage: $0 SERVER_CMD [CHECK]" >&2; exit 2; }
read -r -a server <<<"$1"
only=${2:-}
command -v go >/dev/null || [ -n "${KV_GO_BIN:-}" ] || { echo "SKIP: go is not installed (apt-get install golang-go)"; exit 77; }
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl is not installed (apt-get install etcd-client)"; exit 77; }
work=$(mktemp -d /tmp/keel-kv-clientv3.XXXXXX)
cluster=$work/cluster
trap 'kv_cluster_stop "$cluster"; rm -rf "$work"' EXIT
bin=${KV_GO_BIN:-$work/bin}
[ -n "${KV_GO_BIN:-}" ] || "$here/../go/build.sh" "$bin"
KV_SERVER_FLAGS="${KV_SERVER_FLAGS:-} --experimental-watch-progress-notify-interval=500ms" \
  kv_cluster_start "$cluster" 3 "${server[@]}"
kv_cluster_wait_healthy "$cluster" 30
if ! "$bin/kvclient" -endpoints "$(kv_endpoints "$cluster")" ${only:+-only "$only"} 2>"$work/stderr"; then
  echo "--- kvclient's stderr" >&2
  tail -n 40 "$work/stderr" >&2
  kv_cluster_print_logs "$cluster"
  echo "FAIL: kvclient" >&2
  exit 1
fi
