#!/bin/sh
# shellcheck shell=dash
# Guest side of tests/qemu/container_units.sh, run by keel.run= on a keel
# disk whose units are in guest/container_units/units (enabled): the
# busybox image imported into the store on STATE, web.container (httpd,
# Notify=healthy), after-web.service (After=/Requires= web.service) and
# hello-docker.service (`docker run`, Requires=docker.service).
#
# Each check prints one line the host side looks for:
#   CU_NAME: PASS: what was seen
#   CU_NAME: FAIL: why
# then CONTAINER_UNITS: DONE, and the guest powers off.
exec >/dev/console 2>&1
PATH=/usr/bin:/bin:/sbin:/usr/sbin
export PATH

IMAGE=localhost/busybox:test

up() { cut -d ' ' -f 1 /proc/uptime; }

# shellcheck source-path=SCRIPTDIR source=check_lib.sh
. /lib/keel-test/check_lib.sh

pass() { echo "CU_$1: PASS: $2"; }
fail() { echo "CU_$1: FAIL: $2"; }

# A number compare for uptimes ("12.34"): true when $1 <= $2.
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

done_() {
  echo "--- keel list-units --all"
  keel list-units --all
  echo "--- keel logs -n 60"
  keel logs -n 60
  echo "CONTAINER_UNITS: DONE"
  keel poweroff
  sleep 600
}

echo "container_units: web on the $(cat /cu/network) network"

# -- the image: busybox-image.service imported it into the store on STATE.
if wait_for 60 is_active busybox-image.service &&
  keel image ls | grep -Eq '^localhost/busybox +test '; then
  pass IMPORT "$(keel image ls | grep '^localhost/busybox')"
else
  fail IMPORT "busybox-image.service is $(state busybox-image.service); keel image ls: $(keel image ls 2>&1)"
  keel status busybox-image -n 10
fi

# -- the units: web.container is web.service, docker.service is active.
if keel status web 2>&1 | grep -q 'web.container'; then
  pass UNIT "web.service comes from $(keel status web 2>&1 | grep -o '/[^ ]*web.container' | head -n 1)"
else
  fail UNIT "keel status web does not name web.container: $(keel status web 2>&1 | head -n 5)"
fi
if wait_for 30 is_active docker.service; then
  pass DOCKER_SERVICE "docker.service is $(state docker.service)"
else
  fail DOCKER_SERVICE "docker.service is $(state docker.service)"
fi

# -- keel brought the loopback interface up (127.0.0.1 works on the host).
if ip addr show lo | grep -q 'inet 127.0.0.1/8' && ip link show lo | grep -q '[<,]UP[,>]'; then
  pass LOOPBACK "lo is up with 127.0.0.1/8"
else
  fail LOOPBACK "lo: $(ip addr show lo)"
fi

# -- keel's bridge works here (the modules are loaded, nftables takes the
# rules): httpd in a network namespace of its own, attached to keel0 with
# 127.0.0.1:8081 published, answers on the host's loopback.
if [ "$(cat /cu/network)" = bridge ]; then
  mkdir -p /run/cu/www
  echo "bridge probe" >/run/cu/www/index.html
  unshare -n sh -c 'ip link set lo up 2>/dev/null; exec httpd -f -p 8080 -h /run/cu/www' &
  probe_pid=$!
  sleep 0.5
  if address=$(keel network attach -p 127.0.0.1:8081:8080 bridge-probe "/proc/$probe_pid/ns/net" 2>&1) &&
    [ "$(get 127.0.0.1 8081)" = "bridge probe" ]; then
    pass BRIDGE "keel0 up, a namespace at $address answers on 127.0.0.1:8081 (DNAT)"
  else
    fail BRIDGE "attach: $address; GET 127.0.0.1:8081: $(get_error)"
    echo "GET $address:8080 directly: $(get "$address" 8080) $(get_error)"
    nsenter -t "$probe_pid" -n ip addr
    nsenter -t "$probe_pid" -n ip route
    nsenter -t "$probe_pid" -n netstat -ltn
    ps
    ip addr
    ip route
    keel network ls
  fi
  keel network detach bridge-probe
  kill "$probe_pid"
else
  pass BRIDGE "not used (web on the host's network)"
fi

# -- does this keel run containers from images? (`keel run` is being
# finished: first the foreground path from a root directory, then images.)
probe=$(keel run --rm --network=host "$IMAGE" /bin/true 2>&1)
probe_status=$?
if [ "$probe_status" -ne 0 ]; then
  fail RUN_PROBE "keel run $IMAGE /bin/true exited $probe_status: $probe"
else
  pass RUN_PROBE "keel run --rm $IMAGE /bin/true exited 0"
fi

# -- web answers over HTTP (Notify=healthy: active once a check passed).
# If web never starts, the checks that need it say why at once.
if ! wait_for 60 is_active web.service; then
  why="web.service never became active ($(state web.service)): $(keel logs web | grep 'web.service: keel: ' | grep -v -m 1 'no container' | sed 's/^.*web.service: //')"
  for check in HTTP LOGS PS HEALTH_GATE RESTART STOP; do
    fail "$check" "$why"
  done
  web_ran=0
else
web_ran=1

body=$(get 127.0.0.1 8080)
case "$body" in
  *"Hello from a busybox container"*) pass HTTP "GET http://127.0.0.1:8080/ answered by the container" ;;
  *) fail HTTP "web.service is active, GET 127.0.0.1:8080 gave: ${body:-nothing} $(get_error)" ;;
esac

# -- its output is in the journal.
if wait_for 10 sh -c 'keel logs web | grep -q "web: httpd [0-9]* serving since"'; then
  pass LOGS "$(keel logs web | grep -c 'web: ') lines from the container in keel logs web"
else
  fail LOGS "keel logs web has no line from the container: $(keel logs -n 10 web 2>&1)"
fi

# -- keel ps lists it.
ps_out=$(keel ps 2>&1)
case "$ps_out" in
  *web*) pass PS "keel ps lists web" ;;
  *) fail PS "keel ps: $ps_out" ;;
esac

# -- the container's group is below the unit's (whose MemoryMax= is over
# it), and the unit's own processes (keel run) moved to its supervisor
# group: cgroup v2 allows processes only in the leaves.
G=/sys/fs/cgroup/keel.slice/web.service
httpd_group=$(sed -n 's/^0:://p' "/proc/$(pidof httpd | cut -d ' ' -f 1)/cgroup" 2>/dev/null)
case "$httpd_group" in
  /keel.slice/web.service/supervisor | /keel.slice/web.service/supervisor/*)
    fail CGROUP "httpd is in the supervisor group: $httpd_group" ;;
  /keel.slice/web.service/?*)
    if [ "$(cat $G/memory.max)" != 67108864 ]; then
      fail CGROUP "web.service's memory.max is $(cat $G/memory.max), not 64M"
    elif [ -n "$(cat $G/cgroup.procs)" ]; then
      fail CGROUP "web.service's own group holds processes: $(cat $G/cgroup.procs)"
    elif ! grep -q . $G/supervisor/cgroup.procs; then
      fail CGROUP "nothing in $G/supervisor"
    else
      pass CGROUP "httpd in $httpd_group, keel run in supervisor, under web.service's memory.max 64M"
    fi
    ;;
  *) fail CGROUP "httpd is in ${httpd_group:-no group}, not below keel.slice/web.service" ;;
esac

# -- keel stats and keel inspect read the container's group: the limit in
# force is web.service's MemoryMax=.
stats=$(keel stats --no-stream web 2>&1)
inspected=$(keel inspect web 2>&1)
case "$stats" in
  *web*"/ 64MiB"*)
    case "$inspected" in
      *'"Stats":{"Cgroup":"keel.slice/web.service/'*'"MemoryMax":67108864'*)
        pass STATS "$(echo "$stats" | tail -n 1)" ;;
      *) fail STATS "keel inspect web has no such Stats: $(echo "$inspected" | grep -o '"Stats":{[^}]*}')" ;;
    esac
    ;;
  *) fail STATS "keel stats --no-stream web: $stats" ;;
esac

# -- Notify=healthy gated after-web.service: it started after httpd came up,
# and its first request was answered.
if wait_for 30 test -s /run/cu/after-web.first; then
  started=$(cat /run/cu/after-web.started)
  serving=$(keel logs web | sed -n 's/.*web: httpd [0-9]* serving since \([0-9.]*\).*/\1/p' | head -n 1)
  first=$(cat /run/cu/after-web.first)
  if [ "$first" = ok ] && [ -n "$serving" ] && le "$serving" "$started"; then
    pass HEALTH_GATE "after-web started at $started s, after httpd came up at $serving s; its first request was answered"
  else
    fail HEALTH_GATE "after-web started at $started s (httpd up at ${serving:-?} s); its first request: $first"
  fi
else
  fail HEALTH_GATE "after-web.service never ran: $(state after-web.service)"
fi

# -- a container that exits non-zero is restarted: kill httpd, /serve.sh
# exits 3, Restart=on-failure starts the container again.
runs_before=$(keel logs web | grep -c 'web: container up at')
httpd_pid=$(pidof httpd | cut -d ' ' -f 1)
if [ -z "$httpd_pid" ]; then
  fail RESTART "no httpd process to kill"
else
  kill -KILL "$httpd_pid"
  if wait_for 60 sh -c "[ \$(keel logs web | grep -c 'web: container up at') -gt $runs_before ]" &&
    wait_for 60 get 127.0.0.1 8080; then
    pass RESTART "httpd killed, the container exited 3, was started again and answers"
  else
    fail RESTART "after killing httpd ($httpd_pid): web.service is $(state web.service), runs $(keel logs web | grep -c 'web: container up at')"
    keel logs -n 20 web
  fi
fi

fi

# -- the unit written for Docker ran its container.
if wait_for 30 sh -c 'keel logs hello-docker | grep -q "hello from a docker-style unit"'; then
  pass DOCKER_UNIT "$(keel logs hello-docker | grep -o 'hello from a docker-style unit.*' | head -n 1)"
else
  fail DOCKER_UNIT "hello-docker.service is $(state hello-docker.service): $(keel logs hello-docker | grep 'hello-docker.service: keel: ' | grep -v -m 1 'no container' | sed 's/^.*hello-docker.service: //')"
fi

# -- keel stop web: the container is stopped and removed (--rm).
[ "$web_ran" -eq 1 ] || done_
keel stop web
ps_out=$(keel ps 2>&1)
case "$ps_out" in
  *web*) fail STOP "keel ps after keel stop web: $ps_out" ;;
  *)
    if pidof httpd >/dev/null; then
      fail STOP "httpd still runs after keel stop web"
    elif ! wait_for 10 sh -c "! test -e $G"; then
      fail STOP "web.service's group is left: $(find $G -type d)"
    else
      pass STOP "web.service is $(state web.service), keel ps lists no web"
    fi
    ;;
esac

done_
