#!/usr/bin/env bash
# Host integration tests of the service manager: `keel init --container
# --units DIR` as PID 1 of a PID namespace, real processes, the control
# socket and the notify socket; no VM.
# usage: services.sh KEEL_BINARY CASE
set -euo pipefail

keel=$(realpath "$1")
case_name=$2
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d /tmp/keel-services.XXXXXX)
units=$work/units
mkdir -p "$units/multi-user.target.wants"
bg_pid=""
cleanup() {
  if [ -n "$bg_pid" ]; then kill -KILL "$bg_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $case_name: $*" >&2
  if [ -f "$work/init.log" ]; then echo "----- init's log -----" >&2; cat "$work/init.log" >&2; fi
  exit 1
}
pass() { echo "PASS: $case_name"; }

export KEEL_CONTROL_SOCKET="$work/init.sock"

# unit NAME: the unit file from stdin, enabled in multi-user.target.
unit() {
  cat >"$units/$1"
  ln -s "../$1" "$units/multi-user.target.wants/$1"
}

# Starts keel init as PID 1 of new PID and mount namespaces, in the background.
boot() {
  (exec unshare --pid --fork --kill-child --mount-proc "$keel" init --container \
    --control-socket "$work/init.sock" --units "$units" -- sleep 3600 >"$work/init.log" 2>&1) &
  bg_pid=$!
  wait_for 50 test -S "$work/init.sock" || fail "control socket never appeared"
}

# Ends it with `keel poweroff` and checks it ended cleanly.
poweroff() {
  "$keel" poweroff || fail "poweroff refused"
  local rc=0
  wait "$bg_pid" || rc=$?
  bg_pid=""
  [ "$rc" -eq 0 ] || fail "init exited with $rc after poweroff"
}

# Waits (bounded, tenths of a second) until the command succeeds.
wait_for() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# The unit's state as "active/running", from `keel status --json`.
state_of() {
  "$keel" status "$1" --json 2>/dev/null |
    sed -n 's/.*"active_state":"\([a-z-]*\)","sub_state":"\([a-z-]*\)".*/\1\/\2/p'
}
in_state() { [ "$(state_of "$1")" = "$2" ]; }

now_ms() { date +%s%3N; }
# Lines in a file, 0 when it does not exist yet.
lines_in() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }
at_least() { [ "$(lines_in "$1")" -ge "$2" ]; }
# `keel status UNIT` output (it exits 3 for a unit that is not active).
status_of() { "$keel" status "$@" 2>&1 || true; }

case "$case_name" in
order_parallel)
  # a and b have no order between them and start together; c is after both.
  for u in a b; do
    unit "$u.service" <<UNIT
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'date +%%s%%3N > $work/$u.start; sleep 1; date +%%s%%3N > $work/$u.end'
UNIT
  done
  unit c.service <<UNIT
[Unit]
After=a.service b.service
Requires=a.service b.service
[Service]
ExecStart=/bin/sh -c 'date +%%s%%3N > $work/c.start; exec sleep 3600'
UNIT
  boot
  wait_for 50 test -s "$work/c.start" || fail "c.service never started"
  a=$(cat "$work/a.start") b=$(cat "$work/b.start") c=$(cat "$work/c.start")
  a_end=$(cat "$work/a.end") b_end=$(cat "$work/b.end")
  gap=$((a > b ? a - b : b - a))
  [ "$gap" -lt 500 ] || fail "a and b started $gap ms apart: not in parallel"
  [ "$c" -ge "$a_end" ] && [ "$c" -ge "$b_end" ] || fail "c started before a and b finished"
  in_state multi-user.target active/active || fail "multi-user.target: $(state_of multi-user.target)"
  in_state a.service active/exited || fail "a.service: $(state_of a.service)"
  grep -Eq '^  c\.service +loaded active +running' < <("$keel" list-units) || fail "list-units: $("$keel" list-units)"
  grep -q 'Reached target multi-user.target' "$work/init.log" || fail "no 'Reached target' line"
  poweroff
  pass ;;

restart_limit)
  # A crashing service restarts after RestartSec= until its start limit.
  unit crash.service <<UNIT
[Unit]
Description=Crashes on start
StartLimitIntervalSec=20s
StartLimitBurst=3
[Service]
ExecStart=/bin/sh -c 'echo run >> $work/runs; echo crashing; exit 3'
Restart=on-failure
RestartSec=300ms
UNIT
  boot
  wait_for 50 in_state crash.service failed/failed || fail "crash.service: $(state_of crash.service)"
  runs=$(wc -l <"$work/runs")
  [ "$runs" -eq 3 ] || fail "expected 3 runs (StartLimitBurst=3), got $runs"
  sleep 1
  [ "$(wc -l <"$work/runs")" -eq 3 ] || fail "it ran again after hitting the start limit"
  status=$("$keel" status crash || true)
  grep -q 'Active: failed (Result: start-limit-hit)' <<<"$status" || fail "status: $status"
  grep -q 'Restarts: 3' <<<"$status" || fail "status: $status"
  grep -q 'crash.service: crashing' <<<"$status" || fail "status lacks the service's output: $status"
  logs=$("$keel" logs crash)
  grep -q 'exited with status 3, restarting in 300 ms' <<<"$logs" || fail "logs: $logs"
  grep -q 'start request repeated too quickly' <<<"$logs" || fail "logs: $logs"
  # The restarts were spaced by RestartSec=: the journal has the times.
  times=$("$keel" logs crash --json | grep '"message":"crashing"' |
    sed 's/.*"realtime_usec":\([0-9]*\).*/\1/')
  prev=""
  for t in $times; do
    if [ -n "$prev" ] && [ $((t - prev)) -lt 250000 ]; then fail "restarts $((t - prev)) us apart"; fi
    prev=$t
  done
  set +e; "$keel" status crash >/dev/null; rc=$?; set -e
  [ "$rc" -eq 3 ] || fail "status of a failed unit should exit 3, got $rc"
  # Starting it by hand is a fresh start.
  set +e; "$keel" start crash; set -e
  wait_for 30 at_least "$work/runs" 4 || fail "a manual start did not run it"
  poweroff
  pass ;;

notify)
  # A notify service gates what is ordered after it until READY=1, sent with
  # `keel notify` from its shell script.
  unit ready.service <<UNIT
[Service]
Type=notify
ExecStart=/bin/sh -c 'sleep 1; date +%%s%%3N > $work/ready.at; $keel notify --ready --status="serving 3 clients"; exec sleep 3600'
UNIT
  unit after.service <<UNIT
[Unit]
After=ready.service
Requires=ready.service
[Service]
ExecStart=/bin/sh -c 'date +%%s%%3N > $work/after.at; exec sleep 3600'
UNIT
  unit early.service <<UNIT
[Service]
ExecStart=/bin/sh -c 'date +%%s%%3N > $work/early.at; exec sleep 3600'
UNIT
  boot
  wait_for 20 test -s "$work/early.at" || fail "early.service never started"
  in_state ready.service activating/start || fail "ready.service: $(state_of ready.service)"
  [ ! -e "$work/after.at" ] || fail "after.service started before READY=1"
  wait_for 50 test -s "$work/after.at" || fail "after.service never started"
  [ "$(cat "$work/after.at")" -ge "$(cat "$work/ready.at")" ] || fail "after.service started before READY=1"
  in_state ready.service active/running || fail "ready.service: $(state_of ready.service)"
  grep -q 'Status: "serving 3 clients"' < <("$keel" status ready) || fail "status text: $("$keel" status ready)"
  set +e; out=$(env -u NOTIFY_SOCKET "$keel" notify --ready 2>&1); rc=$?; set -e
  [ "$rc" -ne 0 ] && grep -q 'NOTIFY_SOCKET is not set' <<<"$out" || fail "keel notify outside a unit: $out"
  poweroff
  pass ;;

watchdog)
  # WatchdogSec=: fed three times, then silent: killed with SIGABRT, restarted.
  unit dog.service <<UNIT
[Service]
Type=notify
WatchdogSec=1s
Restart=on-watchdog
ExecStart=/bin/sh -c 'echo run >> $work/runs; $keel notify --ready; for i in 1 2 3; do sleep 0.5; $keel notify WATCHDOG=1; done; exec sleep 3600'
UNIT
  boot
  wait_for 80 at_least "$work/runs" 2 || fail "not restarted after the watchdog timeout"
  logs=$("$keel" logs dog)
  grep -q 'watchdog timeout (limit 1 s), killing it with SIGABRT' <<<"$logs" || fail "logs: $logs"
  grep -q 'main process killed by signal 6 (SIGABRT)' <<<"$logs" || fail "logs: $logs"
  poweroff
  pass ;;

stop_timeout)
  # A service that ignores SIGTERM is killed after TimeoutStopSec=; init
  # still powers off cleanly with another such service running.
  for u in stubborn other; do
    unit "$u.service" <<UNIT
[Service]
ExecStart=/bin/sh -c 'trap "" TERM; echo \$\$\$\$ > $work/$u.pid; while :; do sleep 0.1; done'
TimeoutStopSec=1s
UNIT
  done
  boot
  wait_for 30 test -s "$work/stubborn.pid" || fail "stubborn.service never started"
  start=$(now_ms)
  "$keel" stop stubborn || fail "stop failed"
  took=$(($(now_ms) - start))
  [ "$took" -ge 900 ] && [ "$took" -lt 5000 ] || fail "stop took $took ms, expected about 1 s"
  # (The recorded pid is the namespace's; look for the command line instead.)
  [[ "$(cat "$work/stubborn.pid")" =~ ^[0-9]+$ ]] || fail "no pid recorded"
  ! pgrep -f "$work/stubborn.pid" >/dev/null || fail "the process survived"
  grep -q 'Active: failed (Result: timeout)' < <(status_of stubborn) || fail "status: $(status_of stubborn)"
  grep -q 'did not stop within 1 s, sending SIGKILL' < <("$keel" logs stubborn) || fail "logs: $("$keel" logs stubborn)"
  wait_for 30 test -s "$work/other.pid" || fail "other.service never started"
  start=$(now_ms)
  poweroff
  took=$(($(now_ms) - start))
  [ "$took" -lt 8000 ] || fail "poweroff took $took ms"
  grep -q 'other.service: did not stop within 1 s, sending SIGKILL' "$work/init.log" || fail "other.service was not killed at shutdown"
  pass ;;

control)
  # list-units, status, start, stop, restart over the socket; enable and
  # daemon-reload; non-root is refused changes with a clear message.
  unit web.service <<UNIT
[Unit]
Description=The web server
[Service]
ExecStart=/bin/sh -c 'echo started >> $work/web.runs; exec sleep 3600'
ExecReload=/bin/sh -c 'echo reload \$MAINPID >> $work/web.runs'
[Install]
WantedBy=multi-user.target
UNIT
  boot
  wait_for 30 in_state web.service active/running || fail "web.service: $(state_of web.service)"
  grep -q 'web.service *loaded active *running *The web server' < <("$keel" list-units) || fail "list-units"
  grep -q '"name":"web.service"' < <("$keel" list-units --json) || fail "list-units --json"
  grep -q '^● web.service - The web server' < <("$keel" status web) || fail "status: $("$keel" status web)"
  grep -q 'Loaded: loaded (.*web.service; enabled)' < <("$keel" status web) || fail "status: $("$keel" status web)"
  "$keel" reload web || fail "reload"
  grep -q "reload [0-9]" "$work/web.runs" || fail "ExecReload did not get \$MAINPID: $(cat "$work/web.runs")"
  "$keel" stop web || fail "stop"
  in_state web.service inactive/dead || fail "after stop: $(state_of web.service)"
  "$keel" start web || fail "start"
  "$keel" restart web || fail "restart"
  # Type=simple counts as started once exec'd: the line may come a moment later.
  started_thrice() { [ "$(grep -c started "$work/web.runs")" -eq 3 ]; }
  wait_for 30 started_thrice || fail "runs: $(cat "$work/web.runs")"
  grep -q '^Removed ' < <("$keel" disable web) || fail "disable"
  grep -q 'web.service; disabled)' < <(status_of web) || fail "after disable: $(status_of web)"
  grep -q '^Created symlink ' < <("$keel" enable web) || fail "enable"
  cat >"$units/new.service" <<UNIT
[Service]
ExecStart=/bin/sleep 3600
UNIT
  "$keel" daemon-reload || fail "daemon-reload"
  "$keel" start new || fail "start a unit added after boot"
  set +e
  err=$("$keel" start missing 2>&1); rc=$?
  set -e
  [ "$rc" -ne 0 ] && grep -q 'unit `missing.service` not found' <<<"$err" || fail "start missing: $err"
  chmod 755 "$work"
  set +e
  err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$keel" stop web 2>&1); rc=$?
  set -e
  [ "$rc" -ne 0 ] && grep -q 'permission denied: stop needs root' <<<"$err" || fail "non-root stop: $err"
  set +e
  err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$keel" list-units 2>&1); rc=$?
  set -e
  [ "$rc" -ne 0 ] && grep -q "permission denied: list-units needs root or the \`keel\` group" <<<"$err" ||
    fail "non-root list-units: $err"
  in_state web.service active/running || fail "web.service after the refusals: $(state_of web.service)"
  # logs -f streams new lines as they come.
  ("$keel" logs -f -n 1 web >"$work/follow.out" 2>&1 &
    echo $! >"$work/follow.pid")
  sleep 0.3
  "$keel" restart web
  wait_for 30 grep -q 'Started web.service' "$work/follow.out" || fail "logs -f: $(cat "$work/follow.out")"
  kill "$(cat "$work/follow.pid")"
  poweroff
  pass ;;

malformed)
  # A malformed unit is reported with file:line; the others run.
  printf '[Service]\nExecStart=/bin/true\nthis line is not an assignment\n' >"$units/broken.service"
  ln -s ../broken.service "$units/multi-user.target.wants/broken.service"
  printf '[Service]\nExecStart=/bin/true\nRestart=sometimes\n' >"$units/badvalue.service"
  ln -s ../badvalue.service "$units/multi-user.target.wants/badvalue.service"
  unit good.service <<UNIT
[Service]
ExecStart=/bin/sh -c 'touch $work/good; exec sleep 3600'
UNIT
  boot
  wait_for 30 test -e "$work/good" || fail "good.service did not run"
  grep -q "broken.service:3: expected Key=Value" "$work/init.log" || fail "broken.service not reported with file:line"
  grep -q "badvalue.service:3: Restart: unknown value \`sometimes\`" "$work/init.log" || fail "badvalue.service not reported"
  grep -q '● broken.service *error' < <("$keel" list-units) || fail "list-units: $("$keel" list-units)"
  grep -q 'Loaded: error (Reason: .*broken.service:3: expected Key=Value' < <(status_of broken) ||
    fail "status: $(status_of broken)"
  in_state multi-user.target active/active || fail "multi-user.target: $(state_of multi-user.target)"
  poweroff
  pass ;;

container_units)
  # A .container file is the unit NAME.service (status, list-units, enable);
  # one without Image= fails to load, naming its file; docker.service from
  # units/ is active once the runtime answers, so a unit written for Docker
  # (Requires=docker.service) starts.
  cat >"$units/web.container" <<UNIT
[Unit]
Description=Web in a container
[Container]
Image=docker.io/library/nginx:1.27
PublishPort=8080:80
Frobnicate=1
[Install]
WantedBy=multi-user.target
UNIT
  printf '[Container]\nExec=sleep 1\n' >"$units/noimage.container"
  ln -s ../noimage.container "$units/multi-user.target.wants/noimage.service"
  sed "s|/usr/bin/keel|$keel|" "$source_dir/units/docker.service" >"$units/docker.service"
  unit app.service <<UNIT
[Unit]
After=docker.service
Requires=docker.service
[Service]
ExecStart=/bin/sh -c 'touch $work/app; exec sleep 3600'
UNIT
  boot
  wait_for 50 test -e "$work/app" || fail "app.service did not start"
  in_state docker.service active/exited || fail "docker.service: $(state_of docker.service)"
  grep -q "web.container:6: unknown key \`Frobnicate\` in \[Container\], ignored" "$work/init.log" ||
    fail "the unknown key was not reported with file:line"
  grep -q "Loaded: loaded ($units/web.container; disabled" < <(status_of web) || fail "status: $(status_of web)"
  grep -Eq '^  web\.service +loaded inactive' < <("$keel" list-units --all) || fail "list-units: $("$keel" list-units --all)"
  grep -q '● noimage.service *error' < <("$keel" list-units) || fail "list-units: $("$keel" list-units)"
  grep -q "noimage.container: \[Container\] has no Image=" < <(status_of noimage) || fail "status: $(status_of noimage)"
  grep -q "multi-user.target.wants/web.service → $units/web.container" < <("$keel" enable web) ||
    fail "enable did not link web.container"
  "$keel" daemon-reload || fail "daemon-reload refused"
  grep -q "Loaded: loaded ($units/web.container; enabled" < <(status_of web) || fail "status after enable: $(status_of web)"
  poweroff
  pass ;;

detached_container)
  # keel run -d with init answering: the container is the unit
  # container-web.service (active, its output in the journal); the unit's
  # keel run restarts it when its process is killed (--restart on-failure,
  # the same container, RestartCount 1); `keel container kill` is a manual
  # stop, after which it stays exited; `keel rm -f` stops the unit and
  # takes its file away.
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP: keel run needs root (namespaces, mounts)"; exit 77; fi
  busybox=$(command -v busybox || true)
  if [ -z "$busybox" ] || ! grep -q 'statically linked' < <(file -L "$busybox"); then
    echo "SKIP: no statically linked busybox (tools/setup.sh installs busybox-static)"
    exit 77
  fi
  rootfs=$work/rootfs
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp"
  cp "$busybox" "$rootfs/bin/busybox"
  for applet in sh echo sleep; do ln -sf busybox "$rootfs/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$rootfs/etc/group"
  no_mknod=()
  [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || [ -e /sys/fs/cgroup/devices/cgroup.procs ] ||
    no_mknod=(--cap-drop MKNOD)
  state=$work/state
  boot
  # A marker no other process has: the container's sleep is found by it.
  marker=$((6000 + RANDOM % 1000))
  out=$("$keel" run -d --root "$state" --network none "${no_mknod[@]}" --name web \
    --restart on-failure --rootfs "$rootfs" sh -c "echo hi; exec sleep $marker" 2>&1) ||
    fail "keel run -d: $out"
  id=$(printf '%s\n' "$out" | tail -n 1)
  [[ "$id" =~ ^[0-9a-f]{64}$ ]] || fail "keel run -d printed no container id: $out"
  test -f "$units/container-web.service" || fail "no unit file in $units"
  in_state container-web.service active/running || fail "container-web: $(state_of container-web.service)"
  # keel ps checks a container's pid, which is init's PID namespace's:
  # ask from in there.
  init_pid=$(tr -d " " <"/proc/$bg_pid/task/$bg_pid/children")
  inside() { nsenter -t "$init_pid" -p -m -- "$@"; }
  grep -q " web$" < <(inside "$keel" ps --root "$state") || fail "keel ps: $(inside "$keel" ps --root "$state")"
  wait_for 50 sh -c "'$keel' container logs --root '$state' web | grep -q ': hi$'" ||
    fail "container logs: $("$keel" container logs --root "$state" web 2>&1)"
  # Kill the container's process (found by its marker, killed by its pid).
  sleeper=""
  for proc in /proc/[0-9]*; do
    [ "$(tr '\0' ' ' <"$proc/cmdline" 2>/dev/null)" = "sleep $marker " ] && sleeper=${proc#/proc/}
  done
  [ -n "$sleeper" ] || fail "the container's process was not found"
  kill -KILL "$sleeper"
  restarted() {
    grep -q '"RestartCount":1' < <(inside "$keel" inspect --root "$state" web 2>/dev/null) &&
      grep -q " web$" < <(inside "$keel" ps --root "$state")
  }
  wait_for 100 restarted || fail "not restarted: $(inside "$keel" inspect --root "$state" web)"
  in_state container-web.service active/running || fail "container-web: $(state_of container-web.service)"
  new_id=$(inside "$keel" ps --root "$state" -q)
  [ "$new_id" = "${id:0:12}" ] || fail "not the same container after the restart: $new_id"
  wait_for 50 sh -c "[ \$('$keel' container logs --root '$state' web | grep -c ': hi$') -ge 2 ]" ||
    fail "the restarted container's output is not in its logs"
  # A manual stop: not restarted, exited with SIGKILL's status.
  inside "$keel" container kill --root "$state" web >/dev/null || fail "keel container kill"
  wait_for 100 sh -c "! '$keel' status container-web.service --json | grep -q '\"active_state\":\"active\"'" ||
    fail "the unit is still active: $(status_of container-web.service)"
  sleep 1
  grep -q 'Exited (137).*  web$' < <(inside "$keel" ps -a --root "$state") ||
    fail "ps -a after kill: $(inside "$keel" ps -a --root "$state")"
  grep -q '"RestartCount":1' < <(inside "$keel" inspect --root "$state" web) ||
    fail "restarted after kill: $(inside "$keel" inspect --root "$state" web)"
  "$keel" rm -f --root "$state" web >/dev/null || fail "keel rm -f web"
  test ! -e "$units/container-web.service" || fail "the unit file is still there"
  grep -q 'Loaded: not-found' < <(status_of container-web.service) ||
    [ -z "$(state_of container-web.service)" ] || fail "the unit is still loaded: $(status_of container-web.service)"
  left=$(inside "$keel" ps --root "$state" -a -q) || fail "keel ps -a failed"
  [ -z "$left" ] || fail "the container is still there: $left"
  poweroff
  pass ;;

*)
  echo "unknown case $case_name" >&2
  exit 2 ;;
esac
