#!/usr/bin/env bash
# Host integration tests of `keel container start` and `restart` (and
# `docker start|restart`): an exited container started again is the same
# container (its id, its root with what it wrote, its options), a running
# one is left alone, a missing one is Docker's error, `logs --follow`
# ends when its keeper died with it; under `keel init
# --container` the container runs as its transient unit (stop's -t and
# the container's stop signal reach it through the unit), and after a
# "reboot" (init ended and started again, its runtime unit files gone)
# docker.service's `keel container start --boot` starts the `always`
# container and the failed `on-failure:1` one (with one more try) again
# while the unless-stopped one stopped by hand, the `--restart no` one and
# the `on-failure` one that ended with 0 stay exited; after a crash (init
# killed), the container left with --rm is removed, one that ran
# (--restart no) is Exited (255) and none claims to run before the boot.
# Real namespaces, no VM.
# usage: run_start.sh KEEL_BINARY CASE
set -euo pipefail

keel=$(realpath "$1")
case_name=$2
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# A network namespace of its own, as run.sh's cases (--network none here,
# but nothing of the machine's is touched either way).
if [ -z "${KEEL_RUN_TEST_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
  exec env KEEL_RUN_TEST_NETNS=1 unshare --net -- "$0" "$@"
fi
work=$(mktemp -d /tmp/keel-run-start.XXXXXX)
state=$work/state
store=$work/store
units=$work/units
bg_pid=""
cleanup() {
  if [ -n "$bg_pid" ]; then kill -KILL "$bg_pid" 2>/dev/null || true; wait "$bg_pid" 2>/dev/null || true; fi
  for dir in "$state"/containers/*; do
    if [ -d "$dir" ]; then "$keel" rm --root "$state" --force "${dir##*/}" >/dev/null 2>&1 || true; fi
  done
  for id in $("$keel" oci --root "$state/run" list -q 2>/dev/null); do
    "$keel" oci --root "$state/run" delete --force "$id" >/dev/null 2>&1 || true
  done
  for dir in "$store"/containers/*; do
    if [ -d "$dir" ]; then "$keel" image umount --store "$store" "${dir##*/}" >/dev/null 2>&1 || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $case_name: $*" >&2
  if [ -f "$work/init.log" ]; then echo "----- init's log -----" >&2; cat "$work/init.log" >&2; fi
  exit 1
}
pass() { echo "PASS: $case_name"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: keel run needs root (namespaces, mounts)"
  exit 77
fi
# shellcheck source-path=SCRIPTDIR source=busybox_image.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/busybox_image.sh"
require_static_busybox
command -v umoci >/dev/null || { echo "SKIP: no umoci (tools/setup.sh all installs it)"; exit 77; }

# An image example.com/box:1 in $store: a busybox root, its Cmd `sh`.
umoci_busybox_image "$work/oci" "$work/bundle" sleep wc
"$keel" image load --store "$store" -i "$work/oci" --name example.com/box >/dev/null || fail "image load"

# Without cgroup v2 or a v1 devices hierarchy, keel run leaves CAP_MKNOD
# out by itself and says so.
no_mknod=()
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || [ -e /sys/fs/cgroup/devices/cgroup.procs ] ||
    no_mknod=(--cap-drop MKNOD)

# eq EXPECTED COMMAND...: whether COMMAND prints EXPECTED (run anew at
# each try of wait_for).
eq() {
  local want=$1
  shift
  [ "$("$@")" = "$want" ]
}
# Waits (bounded, tenths of a second) until the command succeeds.
wait_for() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
# `keel` with the test's root (prefixed by $in, init's pid namespace when set).
in=()
k() { "${in[@]}" "$keel" "$@"; }
# field NAME KEY: inspect's first "KEY":VALUE (quotes dropped).
field() { k inspect --root "$state" "$1" | grep -o "\"$2\":[^,}]*" | head -n 1 | cut -d: -f2- | tr -d '"'; }
status() { field "$1" Status; }
# What the container wrote in its own root: its overlay's upper directory.
runs_of() {
  local file
  file="$store/containers/$(field "$1" Id)/upper/runs"
  if [ -e "$file" ]; then wc -l <"$file"; else echo 0; fi
}
drun() { k run -d --root "$state" --store "$store" "${no_mknod[@]}" --network none "$@"; }
# A docker link to keel: `docker start|restart` are the same verbs.
mkdir -p "$work/bin"
ln -s "$keel" "$work/bin/docker"

case "$case_name" in
exited)
  # Without init (a keeper waits for it): an exited container started
  # again is the same container, its root kept (what it wrote is there),
  # StartedAt new, RestartCount from 0, its output in its log; start -a
  # waits for it and gives its status; restart and docker start too.
  # shellcheck disable=SC2016 # expanded in the container
  drun --name once example.com/box:1 sh -c 'echo run >>/runs; echo "out $(wc -l </runs)"; exit 3' \
    >"$work/once.id" 2>"$work/once.err" || fail "run -d: $(cat "$work/once.err")"
  id=$(tail -n 1 "$work/once.id")
  [[ "$id" =~ ^[0-9a-f]{64}$ ]] || fail "no id: $(cat "$work/once.id")"
  wait_for 100 eq 1 runs_of once || fail "the first run did not write"
  wait_for 100 eq exited status once || fail "not exited: $(status once)"
  first_start=$(field once StartedAt)
  sleep 1.1 # StartedAt counts seconds
  out=$(k container start --root "$state" once 2>"$work/start.err") ||
    fail "start: status $?: $(cat "$work/start.err")"
  [ "$out" = once ] || fail "start printed: $out"
  wait_for 100 eq 2 runs_of once || fail "not run again: $(runs_of once) runs"
  wait_for 100 eq exited status once || fail "not exited again: $(status once)"
  [ "$(field once Id)" = "$id" ] || fail "not the same container: $(field once Id)"
  [ "$(k ps -a -q --root "$state" | wc -l)" = 1 ] || fail "ps -a: $(k ps -a --root "$state")"
  [ "$(field once StartedAt)" != "$first_start" ] || fail "StartedAt is the first run's: $first_start"
  [ "$(field once ExitCode)" = 3 ] || fail "ExitCode $(field once ExitCode)"
  [ "$(field once RestartCount)" = 0 ] || fail "RestartCount $(field once RestartCount)"
  grep -q 'Exited (3).*  once$' < <(k ps -a --root "$state") || fail "ps -a: $(k ps -a --root "$state")"
  logs=$(k container logs --root "$state" once 2>&1)
  [ "$logs" = $'out 1\nout 2' ] || fail "logs: $logs"
  # start -a: in the foreground, its output and its status.
  set +e
  out=$(k container start -a --root "$state" "${id:0:12}" 2>"$work/attach.err")
  code=$?
  set -e
  [ "$code" = 3 ] || fail "start -a: status $code: $(cat "$work/attach.err")"
  [ "$out" = "out 3" ] || fail "start -a printed: $out"
  # restart of an exited container starts it; docker start and docker restart too.
  [ "$(k container restart --root "$state" once)" = once ] || fail "restart"
  wait_for 100 eq 4 runs_of once || fail "restart: $(runs_of once) runs"
  wait_for 100 eq exited status once || fail "not exited: $(status once)"
  [ "$("$work/bin/docker" start --root "$state" once)" = once ] || fail "docker start"
  wait_for 100 eq 5 runs_of once || fail "docker start: $(runs_of once) runs"
  wait_for 100 eq exited status once || fail "not exited: $(status once)"
  [ "$(field once Id)" = "$id" ] || fail "not the same container at the end"
  k rm --root "$state" once >/dev/null || fail "rm"
  pass ;;

running)
  # A running container: start leaves it as it is and prints its name;
  # restart stops it (its stop signal, SIGKILL after -t) and starts the
  # same container again.
  drun --name sleeper example.com/box:1 sh -c 'echo run >>/runs; exec sleep 60' >/dev/null 2>&1 ||
    fail "run -d sleeper"
  wait_for 100 eq running status sleeper || fail "not running: $(status sleeper)"
  wait_for 100 eq 1 runs_of sleeper || fail "did not write"
  pid=$(field sleeper Pid)
  started=$(field sleeper StartedAt)
  out=$(k container start --root "$state" sleeper) || fail "start of a running one: status $?"
  [ "$out" = sleeper ] || fail "start printed: $out"
  [ "$(field sleeper Pid)" = "$pid" ] || fail "the running container was touched: Pid $(field sleeper Pid)"
  [ "$(runs_of sleeper)" = 1 ] || fail "started a second time"
  [ "$(field sleeper StartedAt)" = "$started" ] || fail "StartedAt changed"
  id=$(field sleeper Id)
  sleep 1.1
  out=$(k container restart --root "$state" -t 1 sleeper) || fail "restart: status $?"
  [ "$out" = sleeper ] || fail "restart printed: $out"
  wait_for 100 eq 2 runs_of sleeper || fail "restart: $(runs_of sleeper) runs"
  wait_for 100 eq running status sleeper || fail "not running after restart: $(status sleeper)"
  [ "$(field sleeper Id)" = "$id" ] || fail "not the same container"
  [ "$(field sleeper Pid)" != "$pid" ] || fail "the same process after restart"
  [ "$(field sleeper StartedAt)" != "$started" ] || fail "StartedAt did not change"
  # Its keeper and it killed at once, as a crash would (nothing records
  # the end): logs --follow ends all the same, once the keeper has had a
  # few seconds to record it.
  pid=$(field sleeper Pid)
  keeper=$(awk '{print $4}' "/proc/$pid/stat")
  [ "$(tr '\0' '\n' <"/proc/$keeper/cmdline" | head -n 1)" = "$keel" ] ||
    fail "the container's parent $keeper is not its keeper: $(tr '\0' ' ' <"/proc/$keeper/cmdline")"
  kill -KILL "$keeper" "$pid"
  wait_for 100 eq exited status sleeper || fail "not exited after the kill: $(status sleeper)"
  timeout 30 "$keel" container logs --root "$state" --follow sleeper >"$work/follow" 2>&1 ||
    fail "logs --follow after the crash: status $?: $(cat "$work/follow")"
  k rm -f --root "$state" sleeper >/dev/null || fail "rm -f"
  pass ;;

missing)
  # Docker's error for a container that is not there, status 1; the other
  # containers named are started all the same.
  drun --name present example.com/box:1 sh -c 'echo run >>/runs' >/dev/null 2>&1 || fail "run -d present"
  wait_for 100 eq 1 runs_of present || fail "did not write"
  wait_for 100 eq exited status present || fail "not exited: $(status present)"
  set +e
  out=$(k container start --root "$state" nope present 2>"$work/err")
  code=$?
  set -e
  [ "$code" = 1 ] || fail "start of a missing container: status $code"
  grep -q 'No such container: nope' "$work/err" || fail "error: $(cat "$work/err")"
  [ "$out" = present ] || fail "the present one was not started: $out"
  wait_for 100 eq 2 runs_of present || fail "present: $(runs_of present) runs"
  for verb in start restart; do
    set +e
    "$work/bin/docker" "$verb" --root "$state" nope 2>"$work/err"
    code=$?
    set -e
    [ "$code" = 1 ] || fail "docker $verb nope: status $code"
    grep -q 'No such container: nope' "$work/err" || fail "docker $verb: $(cat "$work/err")"
  done
  set +e
  k container start -a --root "$state" nope 2>"$work/err"
  code=$?
  set -e
  [ "$code" = 1 ] || fail "start -a nope: status $code"
  grep -q 'No such container: nope' "$work/err" || fail "start -a nope: $(cat "$work/err")"
  k container start --root "$state" 2>/dev/null && fail "start without a container succeeded"
  k container start --root "$state" --boot present 2>/dev/null && fail "--boot with a container succeeded"
  k rm --root "$state" present >/dev/null || fail "rm"
  pass ;;

under_init)
  # keel init --container as PID 1 of a PID namespace, twice: a reboot.
  export KEEL_CONTROL_SOCKET="$work/init.sock"
  mkdir -p "$units/multi-user.target.wants"
  # docker.service as shipped, for this keel and the test's root.
  sed -e "s|/usr/bin/keel|$keel|" -e "s|container start --boot|container start --boot --root $state|" \
    "$source_dir/units/docker.service" >"$units/docker.service"
  ln -s ../docker.service "$units/multi-user.target.wants/docker.service"
  boot() {
    (exec unshare --pid --fork --kill-child --mount-proc "$keel" init --container \
      --control-socket "$work/init.sock" --units "$units" -- sleep 3600 >>"$work/init.log" 2>&1) &
    bg_pid=$!
    wait_for 50 test -S "$work/init.sock" || fail "control socket never appeared"
    local init_pid=""
    for _ in $(seq 50); do
      init_pid=$(tr -d " " <"/proc/$bg_pid/task/$bg_pid/children" 2>/dev/null || true)
      [ -n "$init_pid" ] && break
      sleep 0.1
    done
    # keel ps checks a container's pid, which is init's PID namespace's.
    in=(nsenter -t "$init_pid" -p -m --)
  }
  poweroff() {
    "$keel" poweroff || fail "poweroff refused"
    local rc=0
    wait "$bg_pid" || rc=$?
    bg_pid=""
    in=()
    [ "$rc" -eq 0 ] || fail "init exited with $rc after poweroff"
    rm -f "$work/init.sock"
  }
  unit_state() {
    "$keel" status "$1" --json 2>/dev/null |
      sed -n 's/.*"active_state":"\([a-z-]*\)","sub_state":"\([a-z-]*\)".*/\1\/\2/p'
  }
  boot
  wait_for 100 eq active/exited unit_state docker.service || fail "docker.service: $(unit_state docker.service)"
  drun --name always1 --restart always example.com/box:1 sh -c 'echo run >>/runs; exec sleep 600' \
    >/dev/null 2>"$work/err" || fail "run -d always1: $(cat "$work/err")"
  # Its sleep is its pid 1, which SIGTERM does not end: only stop's -t
  # (not its --stop-timeout) keeps the stop below short.
  drun --name unless1 --restart unless-stopped --stop-timeout 600 example.com/box:1 \
    sh -c 'echo run >>/runs; exec sleep 600' \
    >/dev/null 2>"$work/err" || fail "run -d unless1: $(cat "$work/err")"
  # shellcheck disable=SC2016 # expanded in the container
  drun --name plain example.com/box:1 sh -c 'echo run >>/runs; echo "plain $(wc -l </runs)"; exit 4' \
    >/dev/null 2>"$work/err" || fail "run -d plain: $(cat "$work/err")"
  drun --name failing --restart on-failure:1 example.com/box:1 sh -c 'echo run >>/runs; exit 3' \
    >/dev/null 2>"$work/err" || fail "run -d failing: $(cat "$work/err")"
  drun --name fine --restart on-failure example.com/box:1 sh -c 'echo run >>/runs' \
    >/dev/null 2>"$work/err" || fail "run -d fine: $(cat "$work/err")"
  # Kept once exited (no --rm), as Docker keeps it.
  wait_for 100 eq exited status plain || fail "plain's first run: $(status plain)"
  [ "$(field plain ExitCode)" = 4 ] || fail "plain's ExitCode: $(field plain ExitCode)"
  # Started again: its transient unit again, its output in the journal.
  out=$(k container start --root "$state" plain 2>"$work/err") || fail "start plain: $(cat "$work/err")"
  [ "$out" = plain ] || fail "start printed: $out"
  wait_for 100 eq 2 runs_of plain || fail "plain: $(runs_of plain) runs"
  wait_for 100 eq exited status plain || fail "plain started again: $(status plain)"
  wait_for 100 sh -c "'$keel' container logs --root '$state' plain | grep -q 'plain 2\$'" ||
    fail "logs: $(k container logs --root "$state" plain 2>&1)"
  grep -q -- "container start --attach --root=$state $(field plain Id)" "$units/container-plain.service" ||
    fail "unit: $(cat "$units/container-plain.service")"
  # restart of a running one under init: its unit stopped and started again.
  wait_for 100 eq 1 runs_of always1 || fail "always1 did not run"
  k container restart --root "$state" -t 1 always1 >/dev/null || fail "restart always1"
  wait_for 100 eq 2 runs_of always1 || fail "always1 after restart: $(runs_of always1) runs"
  wait_for 100 eq running status always1 || fail "always1: $(status always1)"
  [ "$(unit_state container-always1.service)" = active/running ] ||
    fail "container-always1: $(unit_state container-always1.service)"
  # A manual stop of the unless-stopped one.
  started=$SECONDS
  k container stop --root "$state" -t 1 unless1 >/dev/null || fail "stop unless1"
  wait_for 100 eq exited status unless1 || fail "unless1: $(status unless1)"
  [ $((SECONDS - started)) -lt 60 ] || fail "stop -t 1 took $((SECONDS - started)) s: -t was not passed on"
  [ "$(field unless1 ExitCode)" = 137 ] || fail "unless1: ExitCode $(field unless1 ExitCode)"
  # Stopped through its unit with its stop signal, which it ends on.
  # shellcheck disable=SC2016 # expanded in the container
  drun --name trapper --stop-signal USR1 --stop-timeout 600 example.com/box:1 \
    sh -c 'trap "echo usr1 >>/runs; exit 0" USR1; echo run >>/runs; while :; do sleep 1; done' \
    >/dev/null 2>"$work/err" || fail "run -d trapper: $(cat "$work/err")"
  wait_for 100 eq 1 runs_of trapper || fail "trapper did not run"
  k container stop --root "$state" trapper >/dev/null || fail "stop trapper"
  wait_for 100 eq exited status trapper || fail "trapper: $(status trapper)"
  [ "$(field trapper ExitCode)" = 0 ] || fail "trapper: ExitCode $(field trapper ExitCode)"
  [ "$(runs_of trapper)" = 2 ] || fail "trapper did not hear USR1"
  # on-failure:1: its run and one more, then it stays exited.
  wait_for 100 eq 2 runs_of failing || fail "failing: $(runs_of failing) runs"
  wait_for 100 eq exited status failing || fail "failing: $(status failing)"
  [ "$(field failing ExitCode)" = 3 ] || fail "failing: ExitCode $(field failing ExitCode)"
  wait_for 100 eq exited status fine || fail "fine: $(status fine)"
  [ "$(runs_of fine)" = 1 ] || fail "fine: $(runs_of fine) runs"
  poweroff
  # The reboot: /run's runtime units are gone; the records stay.
  rm -f "$units"/container-*.service
  boot
  wait_for 200 eq active/exited unit_state docker.service || fail "docker.service after the reboot: $(unit_state docker.service)"
  [ "$(status always1)" = running ] || fail "always1 after the reboot: $(status always1)"
  [ "$(runs_of always1)" = 3 ] || fail "always1: $(runs_of always1) runs"
  [ "$(unit_state container-always1.service)" = active/running ] ||
    fail "container-always1: $(unit_state container-always1.service)"
  [ "$(status unless1)" = exited ] || fail "unless1 after the reboot: $(status unless1)"
  [ "$(runs_of unless1)" = 1 ] || fail "unless1 ran again"
  [ "$(status plain)" = exited ] || fail "plain after the reboot: $(status plain)"
  [ "$(runs_of plain)" = 2 ] || fail "plain ran again"
  # The failed on-failure:1 container: started with its count from 0.
  wait_for 100 eq 4 runs_of failing || fail "failing after the reboot: $(runs_of failing) runs"
  wait_for 100 eq exited status failing || fail "failing after the reboot: $(status failing)"
  [ "$(runs_of fine)" = 1 ] || fail "fine ran again"
  grep -q 'container failing started (--restart on-failure)' < <("$keel" logs docker.service 2>&1) ||
    fail "docker.service did not start failing: $("$keel" logs docker.service 2>&1)"
  grep -q ' always1$' < <(k ps --root "$state") || fail "ps: $(k ps --root "$state")"
  ! grep -Eq ' (unless1|plain)$' < <(k ps --root "$state") || fail "ps: $(k ps --root "$state")"
  grep -q 'container always1 started (--restart always)' < <("$keel" logs docker.service 2>&1) ||
    fail "docker.service did not say what it started: $("$keel" logs docker.service 2>&1)"
  # A crash this time (init and everything in its namespace killed): an
  # --rm container is left behind, and records that said running.
  drun --name gone --rm example.com/box:1 sh -c 'echo run >>/runs; exec sleep 600' >/dev/null 2>"$work/err" ||
    fail "run -d --rm gone: $(cat "$work/err")"
  wait_for 100 eq running status gone || fail "gone: $(status gone)"
  drun --name crashed example.com/box:1 sh -c 'echo run >>/runs; exec sleep 600' >/dev/null 2>"$work/err" ||
    fail "run -d crashed: $(cat "$work/err")"
  wait_for 100 eq running status crashed || fail "crashed: $(status crashed)"
  gone_id=$(field gone Id)
  # --boot takes only containers made before init started, to the second
  # (container.json's created): a real reboot takes longer than that.
  sleep 1.1
  kill -KILL "$bg_pid"
  wait "$bg_pid" 2>/dev/null || true
  bg_pid=""
  in=()
  rm -f "$work/init.sock" "$units"/container-*.service
  # Nothing from before the crash claims to run.
  [ -z "$(k ps -q --root "$state")" ] || fail "ps after the crash: $(k ps --root "$state")"
  [ "$(k ps -a -q --root "$state" | wc -l)" = 8 ] || fail "ps -a after the crash: $(k ps -a --root "$state")"
  boot
  wait_for 200 eq active/exited unit_state docker.service || fail "docker.service after the crash: $(unit_state docker.service)"
  [ "$(status always1)" = running ] || fail "always1 after the crash: $(status always1)"
  [ "$(runs_of always1)" = 4 ] || fail "always1: $(runs_of always1) runs"
  k inspect --root "$state" gone >/dev/null 2>&1 && fail "the --rm container is still there: $(k ps -a --root "$state"; "$keel" logs docker.service 2>&1)"
  [ ! -e "$store/containers/$gone_id" ] || fail "the --rm container's root is still there"
  grep -q 'container gone removed (--rm)' < <("$keel" logs docker.service 2>&1) ||
    fail "docker.service did not say what it removed: $("$keel" logs docker.service 2>&1)"
  # failing, still failed, got its two runs again.
  wait_for 100 eq 6 runs_of failing || fail "failing after the crash: $(runs_of failing) runs"
  wait_for 100 eq exited status failing || fail "failing after the crash: $(status failing)"
  for name in unless1 plain crashed fine failing; do
    [ "$(status "$name")" = exited ] || fail "$name after the crash: $(k ps -a --root "$state")"
  done
  # The one that ran at the crash (--restart no) ended as Docker's daemon
  # records it; the others keep what they ended with.
  [ "$(field crashed ExitCode)" = 255 ] || fail "crashed: ExitCode $(field crashed ExitCode)"
  grep -q 'Exited (255) .*  crashed$' < <(k ps -a --root "$state") || fail "ps -a: $(k ps -a --root "$state")"
  [ "$(field plain ExitCode)" = 4 ] || fail "plain: ExitCode $(field plain ExitCode)"
  poweroff
  pass ;;

*)
  echo "unknown case $case_name" >&2
  exit 2 ;;
esac
