#!/usr/bin/env bash
# Builds the Go programs of the KV tests and benchmark (tests/go/kvclient,
# tests/go/kvbench, tests/go/kvhistory) against etcd 3.4's client library as Debian packages it
# (golang-etcd-server-dev under /usr/share/gocode): GOPATH mode, offline,
# nothing fetched. Needs golang-go and golang-etcd-server-dev (tools/setup.sh
# installs both). A cold build takes about 20 s on two cores; the Go build
# cache (GOCACHE, by default ~/.cache/go-build) makes later ones quick.
# usage: tests/go/build.sh OUTDIR      writes OUTDIR/kvclient, OUTDIR/kvbench, OUTDIR/kvhistory
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
command -v go >/dev/null || { echo "go is not installed (apt-get install golang-go)" >&2; exit 1; }
[ -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ] ||
  { echo "etcd's client library is missing (apt-get install golang-etcd-server-dev)" >&2; exit 1; }
export GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS='' GOPROXY=off CGO_ENABLED=0
for program in kvclient kvbench kvhistory; do
  (cd "$here/$program" && go build -o "$out/$program" .)
done
