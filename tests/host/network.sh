#!/usr/bin/env bash
# Host integration tests of bridge networking (`keel network ...`). Every
# link, address and rule lives in network namespaces this script makes:
# a "host" namespace where keel runs (its keel0, its table ip keel), the
# containers' namespaces (processes made by `unshare --net`), and for NAT
# an "outside" namespace joined to the test's host by a veth, with
# addresses from TEST-NET-2 (198.51.100.0/24). The machine's own
# interfaces and rules are never touched (checked at the end); the trap
# removes every namespace and process the test made.
# usage: network.sh KEEL_BINARY CASE
set -euo pipefail

keel=$(realpath "$1")
case_name=$2
work=$(mktemp -d /tmp/keel-network.XXXXXX)
state=$work/state
tag=$$
ns=keel-net-$tag
out=keel-out-$tag
pids=()
namespaces=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for name in "${namespaces[@]}"; do ip netns del "$name" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $case_name: $*" >&2; exit 1; }
pass() { echo "PASS: $case_name"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: network namespaces and netlink need root"
  exit 77
fi
for tool in ip nft nsenter unshare ss busybox; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

# What the machine's own namespace has before the test: compared at the end.
host_links_before=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)
host_rules_before=$(nft list tables 2>/dev/null || true)

# Like grep -q, but reads all its input: under pipefail, grep -q leaving
# early would fail the writer with SIGPIPE.
contains() { grep "$@" >/dev/null; }

# Waits (bounded) until the command succeeds.
wait_for() {
  local tries=$1; shift
  for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# The test's "host": a namespace of its own, loopback up.
make_host_namespace() {
  ip netns add "$ns"
  namespaces+=("$ns")
  ip -n "$ns" link set lo up
}

in_host() { ip netns exec "$ns" "$@"; }
# knet VERB ARGS...: `keel network VERB` in the test's host, with its own lease directory.
knet() { local verb=$1; shift; in_host "$keel" network "$verb" --state "$state" "$@"; }

# start_container VAR: a process in a network namespace of its own, made
# from inside the test's host namespace; its pid goes into VAR.
start_container() {
  ip netns exec "$ns" unshare --net sleep 120 &
  local pid=$!
  pids+=("$pid")
  # ip execs unshare, which execs sleep once the namespace is made. The
  # check reads comm, the name of what was exec'd last: grep on cmdline
  # would find "sleep" among unshare's own arguments (grep may take their
  # NULs for line ends) and let keel attach to the test's host namespace.
  wait_for 50 sh -c "[ \"\$(cat /proc/$pid/comm 2>/dev/null)\" = sleep ]" \
    || fail "unshare did not exec sleep"
  printf -v "$1" '%s' "$pid"
}

in_container() { local pid=$1; shift; nsenter -t "$pid" -n "$@"; }

# serve PID PORT TEXT: a one-shot TCP server in the container that answers TEXT.
serve() {
  (echo "$3" | in_container "$1" timeout 10 busybox nc -l -p "$2" >/dev/null 2>&1 &)
  wait_for 50 sh -c "nsenter -t $1 -n ss -Htln | grep -q ':$2 '" || fail "no server on port $2"
}

# The outside world: a namespace joined to the test's host by a veth,
# 198.51.100.1 (host) and 198.51.100.2 (outside); the host's default route
# goes there.
make_outside() {
  ip netns add "$out"
  namespaces+=("$out")
  ip -n "$out" link set lo up
  ip -n "$ns" link add ext0 type veth peer name ext1 netns "$out"
  ip -n "$ns" addr add 198.51.100.1/24 dev ext0
  ip -n "$out" addr add 198.51.100.2/24 dev ext1
  ip -n "$ns" link set ext0 up
  ip -n "$out" link set ext1 up
  ip -n "$ns" route add default via 198.51.100.2
}

# Nothing the test made may show in the machine's own namespace.
check_host_untouched() {
  local after
  after=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)
  local new
  new=$(comm -13 <(echo "$host_links_before") <(echo "$after") | grep -E '^(keel|ext[01])' || true)
  [ -z "$new" ] || fail "links appeared in the machine's own namespace: $new"
  [ "$(nft list tables 2>/dev/null || true)" = "$host_rules_before" ] \
    || fail "the machine's nftables tables changed: $(nft list tables)"
}

make_host_namespace

case $case_name in
connectivity)
  # Two containers on keel0 reach each other; each got its own address.
  start_container a
  start_container b
  addr_a=$(knet attach a "/proc/$a/ns/net") || fail "attach a: $addr_a"
  addr_b=$(knet attach b "/proc/$b/ns/net") || fail "attach b: $addr_b"
  [ "$addr_a" != "$addr_b" ] || fail "both containers got $addr_a"
  in_container "$a" ip -br addr show eth0 | contains "$addr_a/16" || fail "a's eth0: $(in_container "$a" ip -br addr)"
  in_container "$a" ip route | contains 'default via 10.88.0.1' || fail "a's routes: $(in_container "$a" ip route)"
  in_container "$a" busybox ping -c1 -W2 "$addr_b" >/dev/null || fail "a cannot ping b at $addr_b"
  in_container "$b" busybox ping -c1 -W2 "$addr_a" >/dev/null || fail "b cannot ping a at $addr_a"
  serve "$b" 80 hello-b
  got=$(in_container "$a" timeout 5 busybox nc "$addr_b" 80 </dev/null) || true
  [ "$got" = hello-b ] || fail "a -> b:80 got '$got'"
  knet ls | contains "^a  *$addr_a" || fail "ls: $(knet ls)"
  # A second attach of the same id is refused, and leaves nothing behind.
  knet attach a "/proc/$b/ns/net" 2>"$work/err" && fail "a attached twice"
  grep -q 'attached already' "$work/err" || fail "twice: $(cat "$work/err")"
  [ "$(knet ls --json | grep -o '"id"' | wc -l)" = 2 ] || fail "ls after the refusal: $(knet ls)"
  check_host_untouched
  pass ;;

publish)
  # -p on the test host's address and on its 127.0.0.1, tcp and udp.
  make_outside
  start_container c
  addr=$(knet attach -p 198.51.100.1:8080:80 -p 127.0.0.1:8081:81 -p 8082:82/udp c "/proc/$c/ns/net") \
    || fail "attach: $addr"
  serve "$c" 80 via-address
  got=$(in_host timeout 5 busybox nc 198.51.100.1 8080 </dev/null) || true
  [ "$got" = via-address ] || fail "host -> 198.51.100.1:8080 got '$got'"
  serve "$c" 80 from-outside
  got=$(ip netns exec "$out" timeout 5 busybox nc 198.51.100.1 8080 </dev/null) || true
  [ "$got" = from-outside ] || fail "outside -> 198.51.100.1:8080 got '$got'"
  serve "$c" 81 via-loopback
  got=$(in_host timeout 5 busybox nc 127.0.0.1 8081 </dev/null) || true
  [ "$got" = via-loopback ] || fail "host -> 127.0.0.1:8081 got '$got'"
  # 8080 is published on 198.51.100.1 only.
  serve "$c" 80 wrong
  in_host timeout 3 busybox nc 127.0.0.1 8080 </dev/null >"$work/got" 2>/dev/null || true
  [ ! -s "$work/got" ] || fail "127.0.0.1:8080 reached the container: $(cat "$work/got")"
  # udp 8082 on every address of the host (busybox's nc has no -u: a
  # python3 receiver, and bash's /dev/udp to send).
  if command -v python3 >/dev/null; then
    (in_container "$c" timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 82))
sys.stdout.write(s.recv(100).decode()); sys.stdout.flush()' >"$work/udp" 2>&1 &)
    wait_for 50 sh -c "nsenter -t $c -n ss -Huln | grep -q ':82 '" || fail "no udp server"
    for _ in 1 2 3; do
      ip netns exec "$out" bash -c 'echo datagram >/dev/udp/198.51.100.1/8082' || true
      wait_for 10 grep -q datagram "$work/udp" && break
    done
    grep -q datagram "$work/udp" || fail "the datagram to udp 8082 did not arrive: $(cat "$work/udp")"
  else
    echo "SKIP (part): no python3 for a udp receiver; udp 8082 not tested"
  fi
  check_host_untouched
  pass ;;

hairpin)
  # Containers reach published ports through the host's address: another
  # container's and their own. Twice: with br_netfilter's hook on in the
  # test's host (as on this machine: the DNAT is done at the bridge, and
  # a frame back to its own port needs the port's hairpin mode) and off
  # (as in keel's own images: the connection is routed through the host,
  # and the bridge's address must stand in as its source).
  make_outside
  start_container a
  start_container b
  addr_a=$(knet attach -p 198.51.100.1:8090:80 a "/proc/$a/ns/net") || fail "attach a: $addr_a"
  addr_b=$(knet attach -p 8091:80 b "/proc/$b/ns/net") || fail "attach b: $addr_b"
  gateway=$(in_host ip -4 -o addr show keel0 | awk '{print $4}' | cut -d/ -f1)
  for bridge_hook in 1 0; do
    if ! in_host sysctl -qw net.bridge.bridge-nf-call-iptables=$bridge_hook 2>/dev/null; then
      echo "SKIP (part): no br_netfilter here; hairpin with bridge-nf-call-iptables=$bridge_hook not tested"
      continue
    fi
    serve "$b" 80 "b-through-the-host-$bridge_hook"
    got=$(in_container "$a" timeout 5 busybox nc 198.51.100.1 8091 </dev/null) || true
    [ "$got" = "b-through-the-host-$bridge_hook" ] ||
      fail "bridge-nf-call-iptables=$bridge_hook: a -> 198.51.100.1:8091 (b) got '$got'"
    serve "$b" 80 "b-through-the-gateway-$bridge_hook"
    got=$(in_container "$a" timeout 5 busybox nc "$gateway" 8091 </dev/null) || true
    [ "$got" = "b-through-the-gateway-$bridge_hook" ] ||
      fail "bridge-nf-call-iptables=$bridge_hook: a -> $gateway:8091 (b) got '$got'"
    serve "$a" 80 "a-to-itself-$bridge_hook"
    got=$(in_container "$a" timeout 5 busybox nc 198.51.100.1 8090 </dev/null) || true
    [ "$got" = "a-to-itself-$bridge_hook" ] ||
      fail "bridge-nf-call-iptables=$bridge_hook: a -> 198.51.100.1:8090 (itself) got '$got'"
  done
  check_host_untouched
  pass ;;

outbound_nat)
  # A container's connection to the outside comes from the host's address.
  make_outside
  start_container c
  addr=$(knet attach c "/proc/$c/ns/net") || fail "attach: $addr"
  in_container "$c" busybox ping -c1 -W2 198.51.100.2 >/dev/null || fail "the container cannot ping outside"
  # The server reads a held-open stdin: busybox's nc closes at its end.
  (sleep 8 | ip netns exec "$out" timeout 10 busybox nc -l -p 7000 >/dev/null 2>&1 &)
  wait_for 50 sh -c "ip netns exec $out ss -Htln | grep -q ':7000 '" || fail "no server outside"
  (sleep 3 | in_container "$c" timeout 5 busybox nc 198.51.100.2 7000 >/dev/null 2>&1 &)
  wait_for 30 sh -c "ip netns exec $out ss -Htn state established '( sport = :7000 )' | grep -q ." \
    || fail "no connection arrived outside"
  peer=$(ip netns exec "$out" ss -Htn state established '( sport = :7000 )' | awk '{print $4}')
  case $peer in
  198.51.100.1:* | \[::ffff:198.51.100.1\]:*) ;;
  *) fail "the outside saw the connection from $peer, not 198.51.100.1" ;;
  esac
  check_host_untouched
  pass ;;

detach)
  # detach removes the veth, the lease and the port rules; the other
  # container's stay.
  start_container a
  start_container b
  knet attach -p 8080:80 a "/proc/$a/ns/net" >/dev/null || fail "attach a"
  knet attach -p 9090:90/udp b "/proc/$b/ns/net" >/dev/null || fail "attach b"
  veth_a=$(knet ls --json | sed 's/},{/}\n{/g' | grep '"id":"a"' | sed 's/.*"interface":"\([^"]*\)".*/\1/')
  [ -n "$veth_a" ] || fail "no interface for a: $(knet ls --json)"
  in_host ip link show "$veth_a" >/dev/null || fail "no $veth_a"
  in_host nft list ruleset | contains 'dport 8080' || fail "no rule for 8080: $(in_host nft list ruleset)"
  knet detach a || fail "detach a"
  ! in_host ip link show "$veth_a" >/dev/null 2>&1 || fail "$veth_a is still there"
  ! in_container "$a" ip link show eth0 >/dev/null 2>&1 || fail "a still has eth0"
  ! in_host nft list ruleset | contains 'dport 8080' || fail "8080's rules stayed: $(in_host nft list ruleset)"
  in_host nft list ruleset | contains 'dport 9090' || fail "b's rules went too: $(in_host nft list ruleset)"
  [ ! -e "$state/a.json" ] || fail "a's lease stayed"
  knet ls | contains '^a ' && fail "ls still lists a: $(knet ls)"
  knet detach a 2>"$work/err" && fail "a detached twice"
  grep -q 'not attached' "$work/err" || fail "twice: $(cat "$work/err")"
  # The lease is free again: a newcomer gets the lowest address.
  start_container c
  addr_c=$(knet attach c "/proc/$c/ns/net") || fail "attach c"
  [ "$addr_c" = 10.88.0.2 ] || fail "c got $addr_c, not a's released 10.88.0.2"
  # A container whose namespace is gone detaches too; the last one removes the table.
  knet detach b || fail "detach b"
  kill "$c"; wait "$c" 2>/dev/null || true
  knet detach c || fail "detach c after its namespace went"
  ! in_host nft list tables | contains 'ip keel' || fail "table ip keel stayed: $(in_host nft list ruleset)"
  check_host_untouched
  pass ;;

*)
  echo "unknown case $case_name" >&2
  exit 2 ;;
esac
