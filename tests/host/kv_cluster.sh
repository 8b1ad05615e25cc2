# shellcheck shell=bash
# Helper library (sourced, not run) for the KV tests and benchmarks: a 1- or
# 3-member cluster of an etcd-compatible server on 127.0.0.1 with free ports
# picked at start, its members started, stopped, killed, paused and
# restarted, and each member's log kept and printed on failure.
#
# The server is any command that takes etcd's flags (`etcd`, or
# `build/debug/keel kv serve`): each member runs as
#   SERVER --name mN --data-dir DIR/mN/data
#          --listen-client-urls http://127.0.0.1:C --advertise-client-urls ...
#          --listen-peer-urls http://127.0.0.1:P --initial-advertise-peer-urls ...
#          --initial-cluster m1=...,m2=...,m3=... --initial-cluster-token T
#          --initial-cluster-state new  [KV_SERVER_FLAGS...]
#
# A cluster is a directory; everything about it (ports, pids, the server
# command) is kept in files there, so one script may run several clusters
# side by side and subshells see the same state:
#   source tests/host/kv_cluster.sh
#   kv_cluster_start DIR 3 etcd       start m1..m3 (SERVER may be several words)
#   kv_cluster_prepare DIR 3 etcd     the same files, nobody started yet
#   kv_cluster_wait_healthy DIR        every member answers `endpoint health`
#   kv_endpoints DIR                   127.0.0.1:C1,127.0.0.1:C2,...
#   kv_ctl DIR get foo                 etcdctl (API 3) against every member
#   kv_member_kill DIR m2              SIGKILL; kv_member_pause / _resume: SIGSTOP/SIGCONT
#   kv_member_restart DIR m2           start m2 again on its data and ports
#   kv_member_rss_kib DIR m1           VmRSS of the member's process
#   kv_cluster_stop DIR                SIGTERM, then SIGKILL after 10 s
#   kv_member_new_ports DIR m4         ports for a member still to be added
#   kv_member_join DIR m4 INITIAL      start m4 with --initial-cluster INITIAL
#                                      and --initial-cluster-state existing
#   kv_cluster_print_logs DIR          every member's log, to stderr
# KV_CONFIG_VIA=env passes the same settings as etcd's environment
# variables (ETCD_NAME, ETCD_DATA_DIR, ETCD_LISTEN_CLIENT_URLS, ...) instead.
# Extra server flags for every member: the KV_SERVER_FLAGS array (or a
# string, split on spaces). Ports come from the kernel (bind to port 0,
# read the port, close): another process could take one in the moment
# between, which kv_cluster_start reports as the member's early exit.
# KV_MEMBER_HOSTS ("10.99.0.1 10.99.0.2 ...", one address a member) puts
# member i on the i-th address instead of 127.0.0.1, and KV_MEMBER_NETNS
# (network namespace names, one a member) runs member i in the i-th
# namespace (`ip netns exec`); both are kept in DIR at start.

# Prints COUNT free TCP ports on 127.0.0.1, one a line, all different.
# N free ports below the kernel's ephemeral range: one the kernel handed
# out (bind to port 0) could be taken again, between this check and the
# member's listen, by any connection's ephemeral port, which a full suite
# makes by the thousand (a member once failed with "Address in use").
kv_free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
held = []
while len(held) < int(sys.argv[1]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(10000, max(low, 10001))))
    except OSError:
        s.close()
        continue
    held.append(s)
for s in held:
    print(s.getsockname()[1])
PY
}

# kv_cluster_start DIR SIZE SERVER...: writes DIR's files and starts every
# member in the background (logs in DIR/mN/log). Returns once started; call
# kv_cluster_wait_healthy before using it.
kv_cluster_start() {
  local dir=$1 name
  kv_cluster_prepare "$@" || return 1
  for name in $(kv_members "$dir"); do
    kv_member_launch "$dir" "$name" || return 1
  done
}

# kv_cluster_prepare DIR SIZE SERVER...: writes DIR's files (ports, the
# initial cluster, the token, the members) without starting anyone, so
# that data dirs can be made first (a restored snapshot); then
# kv_member_launch DIR mN starts each.
kv_cluster_prepare() {
  local dir=$1 size=$2
  shift 2
  local server=("$@")
  mkdir -p "$dir"
  printf '%s\n' "${server[@]}" >"$dir/server"
  echo "${KV_CONFIG_VIA:-flags}" >"$dir/config_via"
  local ports
  mapfile -t ports < <(kv_free_ports $((size * 2)))
  [ "${#ports[@]}" -eq $((size * 2)) ] || { echo "kv_cluster: no free ports" >&2; return 1; }
  local initial="" i
  for i in $(seq 1 "$size"); do
    mkdir -p "$dir/m$i"
    echo "${ports[$(((i - 1) * 2))]}" >"$dir/m$i/client_port"
    echo "${ports[$(((i - 1) * 2 + 1))]}" >"$dir/m$i/peer_port"
    kv_nth_word "${KV_MEMBER_HOSTS:-}" "$i" 127.0.0.1 >"$dir/m$i/host"
    kv_nth_word "${KV_MEMBER_NETNS:-}" "$i" "" >"$dir/m$i/netns"
    initial+="${initial:+,}m$i=http://$(cat "$dir/m$i/host"):${ports[$(((i - 1) * 2 + 1))]}"
  done
  echo "$initial" >"$dir/initial_cluster"
  echo "keel-test-$(basename "$dir")-$$-$RANDOM" >"$dir/token"
  for i in $(seq 1 "$size"); do echo "m$i" >>"$dir/members"; done
}

# kv_nth_word LIST N DEFAULT: the N-th word of LIST (from 1), or DEFAULT.
kv_nth_word() {
  local words
  read -r -a words <<<"$1"
  echo "${words[$(($2 - 1))]:-$3}"
}

# The address member NAME of DIR listens on (127.0.0.1 unless set).
kv_member_host() { cat "$1/$2/host" 2>/dev/null || echo 127.0.0.1; }

# kv_member_launch DIR NAME: starts one member with its saved ports and
# data directory (a member restarted on its data ignores --initial-cluster*).
kv_member_launch() {
  local dir=$1 name=$2
  local server client peer host netns extra=()
  mapfile -t server <"$dir/server"
  host=$(kv_member_host "$dir" "$name")
  netns=$(cat "$dir/$name/netns" 2>/dev/null || true)
  [ -z "$netns" ] || server=(ip netns exec "$netns" "${server[@]}")
  client=$(cat "$dir/$name/client_port")
  peer=$(cat "$dir/$name/peer_port")
  if [[ "$(declare -p KV_SERVER_FLAGS 2>/dev/null)" == "declare -a"* ]]; then
    extra=("${KV_SERVER_FLAGS[@]}")
  elif [ -n "${KV_SERVER_FLAGS:-}" ]; then
    read -r -a extra <<<"$KV_SERVER_FLAGS"
  fi
  {
    echo "=== $(date -u +%T) start $name: ${server[*]} (client $client, peer $peer)"
  } >>"$dir/$name/log"
  local initial token state=new
  initial=$(cat "$dir/initial_cluster")
  token=$(cat "$dir/token")
  # A member that joined a running cluster keeps what it was started with.
  [ ! -e "$dir/$name/initial_cluster" ] || initial=$(cat "$dir/$name/initial_cluster")
  [ ! -e "$dir/$name/state" ] || state=$(cat "$dir/$name/state")
  if [ "$(cat "$dir/config_via" 2>/dev/null)" = env ]; then
    ETCD_NAME=$name ETCD_DATA_DIR=$dir/$name/data \
      ETCD_LISTEN_CLIENT_URLS=http://$host:$client ETCD_ADVERTISE_CLIENT_URLS=http://$host:$client \
      ETCD_LISTEN_PEER_URLS=http://$host:$peer ETCD_INITIAL_ADVERTISE_PEER_URLS=http://$host:$peer \
      ETCD_INITIAL_CLUSTER=$initial ETCD_INITIAL_CLUSTER_TOKEN=$token ETCD_INITIAL_CLUSTER_STATE=$state \
      "${server[@]}" "${extra[@]}" >>"$dir/$name/log" 2>&1 </dev/null &
  else
    "${server[@]}" --name "$name" --data-dir "$dir/$name/data" \
      --listen-client-urls "http://$host:$client" --advertise-client-urls "http://$host:$client" \
      --listen-peer-urls "http://$host:$peer" --initial-advertise-peer-urls "http://$host:$peer" \
      --initial-cluster "$initial" --initial-cluster-token "$token" \
      --initial-cluster-state "$state" "${extra[@]}" >>"$dir/$name/log" 2>&1 </dev/null &
  fi
  echo $! >"$dir/$name/pid"
}

# kv_member_new_ports DIR NAME: picks client and peer ports for a member
# that is still to be added (not yet one of DIR's members) and prints its
# peer URL.
kv_member_new_ports() {
  local dir=$1 name=$2 ports
  mapfile -t ports < <(kv_free_ports 2)
  mkdir -p "$dir/$name"
  echo "${ports[0]}" >"$dir/$name/client_port"
  echo "${ports[1]}" >"$dir/$name/peer_port"
  echo "http://127.0.0.1:${ports[1]}"
}

# kv_member_join DIR NAME INITIAL: starts NAME (its ports picked by
# kv_member_new_ports) as a member joining the running cluster, with
# --initial-cluster INITIAL (what `etcdctl member add` printed) and
# --initial-cluster-state existing, and counts it among DIR's members.
kv_member_join() {
  local dir=$1 name=$2
  echo "$3" >"$dir/$name/initial_cluster"
  echo existing >"$dir/$name/state"
  echo "$name" >>"$dir/members"
  kv_member_launch "$dir" "$name"
}

# Names of DIR's members, one a line.
kv_members() { cat "$1/members"; }

# The pid of member NAME of DIR.
kv_member_pid() { cat "$1/$2/pid"; }

# Whether member NAME of DIR is running (or stopped, but not gone).
kv_member_alive() { kill -0 "$(kv_member_pid "$1" "$2")" 2>/dev/null; }

# The client endpoint (HOST:PORT, 127.0.0.1 by default) of member NAME of DIR.
kv_member_endpoint() { echo "$(kv_member_host "$1" "$2"):$(cat "$1/$2/client_port")"; }

# Every member's client endpoint, comma-separated (etcdctl's --endpoints).
kv_endpoints() {
  local dir=$1 name out=""
  for name in $(kv_members "$dir"); do out+="${out:+,}$(kv_member_endpoint "$dir" "$name")"; done
  echo "$out"
}

# kv_ctl DIR ARGS...: etcdctl (API 3) against every member of DIR.
kv_ctl() {
  local dir=$1
  shift
  ETCDCTL_API=3 etcdctl --endpoints="$(kv_endpoints "$dir")" --command-timeout=10s --dial-timeout=3s "$@"
}

# kv_ctl_member DIR NAME ARGS...: etcdctl against member NAME only.
kv_ctl_member() {
  local dir=$1 name=$2
  shift 2
  ETCDCTL_API=3 etcdctl --endpoints="$(kv_member_endpoint "$dir" "$name")" --command-timeout=10s --dial-timeout=3s "$@"
}

# kv_cluster_wait_healthy DIR [SECONDS]: waits (default 30 s) until every
# running member answers `endpoint health` and one of them is leader.
# Fails early, printing the logs, when a member process has exited.
kv_cluster_wait_healthy() {
  local dir=$1 limit=${2:-30} deadline name endpoints=""
  deadline=$((SECONDS + limit))
  for name in $(kv_members "$dir"); do
    kv_member_alive "$dir" "$name" && endpoints+="${endpoints:+,}$(kv_member_endpoint "$dir" "$name")"
  done
  while [ "$SECONDS" -lt "$deadline" ]; do
    for name in $(kv_members "$dir"); do
      if [ ! -e "$dir/$name/killed" ] && ! kv_member_alive "$dir" "$name"; then
        echo "kv_cluster: member $name exited" >&2
        kv_cluster_print_logs "$dir"
        return 1
      fi
    done
    if ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --command-timeout=2s --dial-timeout=1s \
      endpoint health >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  echo "kv_cluster: not healthy after ${limit}s" >&2
  kv_cluster_print_logs "$dir"
  return 1
}

# kv_member_kill DIR NAME: SIGKILL, and reaps it.
kv_member_kill() {
  local pid
  pid=$(kv_member_pid "$1" "$2")
  touch "$1/$2/killed"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# kv_member_pause DIR NAME / kv_member_resume DIR NAME: SIGSTOP / SIGCONT.
kv_member_pause() { kill -STOP "$(kv_member_pid "$1" "$2")"; }
kv_member_resume() { kill -CONT "$(kv_member_pid "$1" "$2")"; }

# kv_member_restart DIR NAME: stops NAME if it runs, starts it again on
# the same data directory and ports.
kv_member_restart() {
  local dir=$1 name=$2
  kv_member_alive "$dir" "$name" && kv_member_stop "$dir" "$name"
  rm -f "$dir/$name/killed"
  kv_member_launch "$dir" "$name"
}

# kv_member_stop DIR NAME: SIGTERM (and SIGCONT, should it be paused),
# SIGKILL after 10 s.
kv_member_stop() {
  local dir=$1 name=$2 pid
  pid=$(kv_member_pid "$dir" "$name")
  touch "$dir/$name/killed"
  kill -TERM "$pid" 2>/dev/null || return 0
  kill -CONT "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kv_cluster: $name ignored SIGTERM for 10s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# kv_member_rss_kib DIR NAME: the member's resident set (VmRSS) in KiB.
kv_member_rss_kib() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$(kv_member_pid "$1" "$2")/status"
}

# kv_cluster_stop DIR: stops every member (no error when none runs).
kv_cluster_stop() {
  local dir=$1 name
  [ -e "$dir/members" ] || return 0
  for name in $(kv_members "$dir"); do kv_member_stop "$dir" "$name"; done
}

# kv_cluster_print_logs DIR: every member's log (the last 60 lines) to stderr.
kv_cluster_print_logs() {
  local dir=$1 name
  [ -e "$dir/members" ] || return 0
  for name in $(kv_members "$dir"); do
    echo "----- $name log ($dir/$name/log) -----" >&2
    tail -n 60 "$dir/$name/log" >&2 2>/dev/null || true
  done
}
