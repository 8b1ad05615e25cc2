#!/usr/bin/env bash
# TLS of a KV server seen through Debian's etcdctl 3.4: https client URLs
# with a server certificate (--cert-file, --key-file), client certificates
# required (--client-cert-auth, --trusted-ca-file), a plaintext client on a
# TLS port, a 3-member cluster whose peers talk mutual TLS
# (--peer-cert-file, --peer-key-file, --peer-trusted-ca-file,
# --peer-client-cert-auth), peers admitted by an allowed CommonName or host
# name (--peer-cert-allowed-cn, --peer-cert-allowed-hostname), and the
# refusal of an https URL without a certificate. Certificates are made with openssl in the test's temporary
# directory: one ECDSA CA, an ECDSA certificate for 127.0.0.1 that members
# use as server and as peer, and an RSA client certificate.
#
# usage: tests/host/kv_tls.sh SERVER_CMD [CASE]
#   tests/host/kv_tls.sh etcd                          every case, real etcd
#   tests/host/kv_tls.sh "build/debug/keel kv serve" cluster
# SERVER_CMD is split on spaces. Cases: the names in `cases` below.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kv_cluster.sh
source "$here/kv_cluster.sh" # kv_free_ports

[ $# -ge 1 ] || { echo "usage: $0 SERVER_CMD [CASE]" >&2; exit 2; }
read -r -a server <<<"$1"
only=${2:-}
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl is not installed (apt-get install etcd-client)"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: openssl is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }

work=$(mktemp -d /tmp/keel-kv-tls.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

case_name=""
fail() {
  echo "FAIL: $case_name: $*" >&2
  local log
  for log in "$work"/*/m*/log; do
    [ -f "$log" ] && { echo "--- $log" >&2; tail -n 40 "$log" >&2; }
  done
  exit 1
}
pass() { echo "PASS: $case_name"; }

# The certificates, in $work/pki.
make_certs() {
  local pki=$work/pki
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
      -out ca.crt -subj "/CN=keel test CA" -days 2
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
      -out server.csr -subj "/CN=127.0.0.1"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt
    # Signed by the same CA, but for another address than the peers'.
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout elsewhere.key \
      -out elsewhere.csr -subj "/CN=10.0.0.9"
    printf 'subjectAltName=IP:10.0.0.9\n' >elsewhere.ext
    openssl x509 -req -in elsewhere.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile elsewhere.ext -out elsewhere.crt
    openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=root"
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -out client.crt
  ) >"$work/openssl.log" 2>&1 || { cat "$work/openssl.log" >&2; fail "openssl"; }
}

# start_members DIR SIZE PEER_SCHEME [FLAGS...]: SIZE members with https
# client URLs and PEER_SCHEME peer URLs, every member given FLAGS; their
# client ports in DIR/mN/client_port.
start_members() {
  local dir=$1 size=$2 scheme=$3
  shift 3
  local ports initial="" i token="tls-$$-$RANDOM"
  mapfile -t ports < <(kv_free_ports $((size * 2)))
  for i in $(seq 1 "$size"); do
    initial+="${initial:+,}m$i=$scheme://127.0.0.1:${ports[$(((i - 1) * 2 + 1))]}"
  done
  for i in $(seq 1 "$size"); do
    local client=${ports[$(((i - 1) * 2))]} peer=${ports[$(((i - 1) * 2 + 1))]}
    mkdir -p "$dir/m$i"
    echo "$client" >"$dir/m$i/client_port"
    "${server[@]}" --name "m$i" --data-dir "$dir/m$i/data" \
      --listen-client-urls "https://127.0.0.1:$client" --advertise-client-urls "https://127.0.0.1:$client" \
      --listen-peer-urls "$scheme://127.0.0.1:$peer" --initial-advertise-peer-urls "$scheme://127.0.0.1:$peer" \
      --initial-cluster "$initial" --initial-cluster-token "$token" --initial-cluster-state new \
      --cert-file "$work/pki/server.crt" --key-file "$work/pki/server.key" \
      "$@" >"$dir/m$i/log" 2>&1 </dev/null &
    pids+=($!)
  done
}

# ctl DIR MEMBER ARGS...: etcdctl over https to one member, trusting the CA.
ctl() {
  local dir=$1 member=$2
  shift 2
  ETCDCTL_API=3 etcdctl --endpoints="https://127.0.0.1:$(cat "$dir/$member/client_port")" \
    --cacert "$work/pki/ca.crt" --command-timeout=5s --dial-timeout=2s "$@"
}

# wait_healthy DIR SIZE [ETCDCTL FLAGS...]: every member answers endpoint health.
wait_healthy() {
  local dir=$1 size=$2 i tries
  shift 2
  for i in $(seq 1 "$size"); do
    for tries in $(seq 1 40); do
      ctl "$dir" "m$i" "$@" --dial-timeout=1s endpoint health >/dev/null 2>&1 && break
      [ "$tries" -lt 40 ] || fail "member m$i did not become healthy"
      sleep 0.5
    done
  done
}

client_cert=()
set_client_cert() { client_cert=(--cert "$work/pki/client.crt" --key "$work/pki/client.key"); }

case_put_get() {
  local dir=$work/put_get
  start_members "$dir" 1 http
  wait_healthy "$dir" 1
  [ "$(ctl "$dir" m1 put greeting hello)" = OK ] || fail "put over https"
  [ "$(ctl "$dir" m1 get greeting --print-value-only)" = hello ] || fail "get over https"
  pass
}

case_client_cert_auth() {
  local dir=$work/client_cert_auth
  set_client_cert
  start_members "$dir" 1 http --client-cert-auth --trusted-ca-file "$work/pki/ca.crt"
  wait_healthy "$dir" 1 "${client_cert[@]}"
  [ "$(ctl "$dir" m1 "${client_cert[@]}" put k v)" = OK ] || fail "put with a client certificate"
  if ctl "$dir" m1 get k >"$dir/out" 2>&1; then
    fail "a client without a certificate was served: $(cat "$dir/out")"
  fi
  # The refused connection did not hurt the member.
  [ "$(ctl "$dir" m1 "${client_cert[@]}" get k --print-value-only)" = v ] ||
    fail "get with a client certificate after a refused client"
  pass
}

case_plaintext_client() {
  local dir=$work/plaintext_client port
  start_members "$dir" 1 http
  wait_healthy "$dir" 1
  port=$(cat "$dir/m1/client_port")
  if ETCDCTL_API=3 etcdctl --endpoints="http://127.0.0.1:$port" --command-timeout=3s \
    --dial-timeout=2s put k v >"$dir/out" 2>&1; then
    fail "a plaintext client was served on a TLS port: $(cat "$dir/out")"
  fi
  [ "$(ctl "$dir" m1 put k v)" = OK ] || fail "put over https after a plaintext client"
  pass
}

case_cluster() {
  local dir=$work/cluster i
  start_members "$dir" 3 https --peer-cert-file "$work/pki/server.crt" \
    --peer-key-file "$work/pki/server.key" --peer-trusted-ca-file "$work/pki/ca.crt" \
    --peer-client-cert-auth
  wait_healthy "$dir" 3
  [ "$(ctl "$dir" m1 put replicated yes)" = OK ] || fail "put on m1"
  for i in 2 3; do
    [ "$(ctl "$dir" "m$i" get replicated --print-value-only)" = yes ] ||
      fail "m$i does not see m1's put"
  done
  [ "$(ctl "$dir" m2 member list | wc -l)" = 3 ] || fail "member list: $(ctl "$dir" m2 member list)"
  pass
}

# A member joining a running cluster whose peers use mutual TLS: it asks
# the members who is in the cluster over TLS with its peer certificate,
# then catches up over TLS like any member.
case_member_join() {
  local dir=$work/join i peer_tls
  peer_tls=(--peer-cert-file "$work/pki/server.crt" --peer-key-file "$work/pki/server.key"
    --peer-trusted-ca-file "$work/pki/ca.crt" --peer-client-cert-auth)
  start_members "$dir" 3 https "${peer_tls[@]}"
  wait_healthy "$dir" 3
  [ "$(ctl "$dir" m1 put before-join yes)" = OK ] || fail "put on m1"
  local ports client peer initial
  mapfile -t ports < <(kv_free_ports 2)
  client=${ports[0]} peer=${ports[1]}
  # etcd refuses an add ("unhealthy cluster") until every member has been
  # connected for 5 s.
  for i in $(seq 1 30); do
    ctl "$dir" m1 member add m4 --peer-urls="https://127.0.0.1:$peer" >"$dir/add" 2>&1 && break
    grep -q 'unhealthy cluster' "$dir/add" && [ "$i" -lt 30 ] || fail "member add: $(cat "$dir/add")"
    sleep 0.5
  done
  initial=$(sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p' "$dir/add")
  [ -n "$initial" ] || fail "member add printed no ETCD_INITIAL_CLUSTER: $(cat "$dir/add")"
  mkdir -p "$dir/m4"
  echo "$client" >"$dir/m4/client_port"
  "${server[@]}" --name m4 --data-dir "$dir/m4/data" \
    --listen-client-urls "https://127.0.0.1:$client" --advertise-client-urls "https://127.0.0.1:$client" \
    --listen-peer-urls "https://127.0.0.1:$peer" --initial-advertise-peer-urls "https://127.0.0.1:$peer" \
    --initial-cluster "$initial" --initial-cluster-state existing \
    --cert-file "$work/pki/server.crt" --key-file "$work/pki/server.key" \
    "${peer_tls[@]}" >"$dir/m4/log" 2>&1 </dev/null &
  pids+=($!)
  for i in $(seq 1 40); do
    [ "$(ctl "$dir" m4 get before-join --print-value-only --consistency=s 2>/dev/null)" = yes ] && break
    [ "$i" -lt 40 ] || fail "m4 did not join and catch up over TLS"
    sleep 0.5
  done
  [ "$(ctl "$dir" m4 put after-join yes)" = OK ] || fail "put on m4"
  [ "$(ctl "$dir" m2 get after-join --print-value-only)" = yes ] || fail "m2 does not see m4's put"
  [ "$(ctl "$dir" m1 member list | grep -c ', started, ')" = 4 ] ||
    fail "member list: $(ctl "$dir" m1 member list)"
  pass
}

# Peers whose certificates (from the right CA) are for another IP address
# than the one they are dialed at: no member trusts another, so no leader,
# and the logs say why.
case_peer_wrong_address() {
  local dir=$work/wrong_address i
  start_members "$dir" 3 https --peer-cert-file "$work/pki/elsewhere.crt" \
    --peer-key-file "$work/pki/elsewhere.key" --peer-trusted-ca-file "$work/pki/ca.crt"
  for i in $(seq 1 60); do
    grep -qE 'not (for )?127\.0\.0\.1' "$dir"/m*/log 2>/dev/null && break
    [ "$i" -lt 60 ] || fail "no member said the peer certificate is not for 127.0.0.1"
    sleep 0.5
  done
  if ctl "$dir" m1 put nobody-trusts yes --command-timeout=3s >/dev/null 2>&1; then
    fail "a put succeeded among peers whose certificates name another address"
  fi
  pass
}

# --peer-cert-allowed-cn and --peer-cert-allowed-hostname: peers whose
# (trusted) certificates have the allowed CommonName, or are for the allowed
# host name, form a cluster; with a CommonName none of them has, no member
# accepts another, and the logs say why.
case_peer_allowed_names() {
  local dir=$work/allowed i peer_tls
  peer_tls=(--peer-cert-file "$work/pki/server.crt" --peer-key-file "$work/pki/server.key"
    --peer-trusted-ca-file "$work/pki/ca.crt" --peer-client-cert-auth)
  start_members "$dir/cn" 3 https "${peer_tls[@]}" --peer-cert-allowed-cn 127.0.0.1
  wait_healthy "$dir/cn" 3
  [ "$(ctl "$dir/cn" m1 put allowed-cn yes)" = OK ] || fail "put with the allowed CN"
  [ "$(ctl "$dir/cn" m3 get allowed-cn --print-value-only)" = yes ] || fail "m3 does not see the put"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  start_members "$dir/host" 3 https "${peer_tls[@]}" --peer-cert-allowed-hostname localhost
  wait_healthy "$dir/host" 3
  [ "$(ctl "$dir/host" m2 put allowed-host yes)" = OK ] || fail "put with the allowed host name"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  start_members "$dir/wrong" 3 https "${peer_tls[@]}" --peer-cert-allowed-cn keel-member
  for i in $(seq 1 60); do
    grep -qE 'CommonName `127.0.0.1` is not the allowed `keel-member`|client certificate authentication failed' \
      "$dir"/wrong/m*/log 2>/dev/null && break
    [ "$i" -lt 60 ] || fail "no member said why it refused its peers: $(tail -n 3 "$dir"/wrong/m1/log)"
    sleep 0.5
  done
  if ctl "$dir/wrong" m1 put not-allowed yes --command-timeout=3s >/dev/null 2>&1; then
    fail "a put succeeded among peers whose CommonName is not the allowed one"
  fi
  pass
}

case_no_cert() {
  local dir=$work/no_cert port status=0
  mkdir -p "$dir"
  port=$(kv_free_ports 2 | tr '\n' ' ')
  read -r -a port <<<"$port"
  timeout 20 "${server[@]}" --name m1 --data-dir "$dir/data" \
    --listen-client-urls "https://127.0.0.1:${port[0]}" --advertise-client-urls "https://127.0.0.1:${port[0]}" \
    --listen-peer-urls "http://127.0.0.1:${port[1]}" --initial-advertise-peer-urls "http://127.0.0.1:${port[1]}" \
    >"$dir/out" 2>&1 </dev/null || status=$?
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "an https client URL without a certificate was not refused"
  grep -q -- "--cert-file" "$dir/out" || fail "the refusal does not name --cert-file: $(cat "$dir/out")"
  pass
}

cases=(put_get client_cert_auth plaintext_client cluster member_join peer_wrong_address peer_allowed_names no_cert)
if [ -n "$only" ]; then
  grep -qx "$only" < <(printf '%s\n' "${cases[@]}") || { echo "unknown case $only (cases: ${cases[*]})" >&2; exit 2; }
  cases=("$only")
fi
make_certs
for case_name in "${cases[@]}"; do
  "case_$case_name"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
done
