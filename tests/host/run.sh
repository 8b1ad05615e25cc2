#!/usr/bin/env bash
# Host integration tests of `keel run`: a busybox image built with umoci
# and loaded with `keel image load`, and a busybox root directory run with
# --rootfs; real namespaces, no VM. Docker's defaults are checked from
# inside the container, the options that change them, and the container
# commands (ps, stop, kill, rm, inspect).
# usage: run.sh KEEL_BINARY CASE
set -euo pipefail

keel=$(realpath "$1")
case_name=$2
# Every case runs in a network namespace of its own: keel run's bridge
# (keel0), its leases (under the test's --root) and its nftables rules
# live and die with it; the machine's own network is never touched.
if [ -z "${KEEL_RUN_TEST_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
  exec env KEEL_RUN_TEST_NETNS=1 unshare --net -- "$0" "$@"
fi
ip link set lo up 2>/dev/null || true
work=$(mktemp -d /tmp/keel-run.XXXXXX)
state=$work/state
store=$work/store
listener=
cleanup() {
  [ -z "$listener" ] || kill "$listener" 2>/dev/null || true
  for id in $(ls "$state/containers" 2>/dev/null); do
    "$keel" rm --root "$state" --force "$id" >/dev/null 2>&1 || true
  done
  for id in $("$keel" oci --root "$state/run" list -q 2>/dev/null); do
    "$keel" oci --root "$state/run" delete --force "$id" >/dev/null 2>&1 || true
  done
  for id in $(ls "$store/containers" 2>/dev/null); do
    "$keel" image umount --store "$store" "$id" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $case_name: $*" >&2; exit 1; }
pass() { echo "PASS: $case_name"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: keel run needs root (namespaces, mounts)"
  exit 77
fi
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! grep -q 'statically linked' < <(file -L "$busybox"); then
  echo "SKIP: no statically linked busybox (tools/setup.sh installs busybox-static)"
  exit 77
fi

# A busybox root like an image's, with a user and a group.
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp" \
  "$rootfs/data"
cp "$busybox" "$rootfs/bin/busybox"
for applet in sh cat grep hostname id pwd unshare touch wc echo env true sleep httpd nc printf tty stty; do
  ln -sf busybox "$rootfs/bin/$applet"
done
mkdir -p "$rootfs/www" && echo hello-from-web >"$rootfs/www/index.html"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\napp:x:1000:\naudio:x:29:app\n' >"$rootfs/etc/group"

# Docker's CapEff: its 14 capabilities.
docker_caps=00000000a80425fb
# Without cgroup v2 or a v1 devices hierarchy, device rules cannot be
# enforced: keel run leaves Docker's default CAP_MKNOD out by itself
# (docs/containers.md), and an explicit --cap-add MKNOD is refused (case
# `refused`). Without cgroup v2 or a v1 memory hierarchy there are no
# memory limits or OOM counts.
no_mknod=()
devices=yes
memcg=yes
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
  echo "NOTE: no cgroup v2 at /sys/fs/cgroup: its v1 hierarchies are used"
  if [ ! -e /sys/fs/cgroup/devices/cgroup.procs ]; then
    echo "NOTE: no v1 devices hierarchy: Docker's capabilities without CAP_MKNOD expected"
    docker_caps=00000000a00425fb
    devices=no
  fi
  [ -e /sys/fs/cgroup/memory/cgroup.procs ] || memcg=no
fi
krun() { "$keel" run --root "$state" --rm "${no_mknod[@]}" --rootfs "$@"; }

# An image example.com/box:1 in $store: the busybox root above, its Cmd
# `sh`, its Env PATH=/bin and GREETING=from-image, WorkingDir /tmp.
load_image() {
  for tool in umoci; do
    command -v "$tool" >/dev/null || { echo "SKIP: no $tool (tools/setup.sh all installs it)"; exit 77; }
  done
  umoci init --layout "$work/oci"
  umoci new --image "$work/oci:1"
  umoci unpack --image "$work/oci:1" "$work/bundle" >/dev/null
  cp -a "$rootfs/." "$work/bundle/rootfs/"
  umoci repack --image "$work/oci:1" "$work/bundle" >/dev/null
  umoci config --image "$work/oci:1" --config.cmd sh --config.env PATH=/bin \
    --config.env GREETING=from-image --config.workingdir /tmp
  "$keel" image load --store "$store" -i "$work/oci" --name example.com/box >/dev/null ||
    fail "image load"
}
listen() { # listen SOCKET OUT: datagrams to SOCKET, one a line, into OUT until killed
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2] + ".up", "w").close()
with open(sys.argv[2], "a") as out:
  while True:
      out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
      out.flush()
' "$1" "$2" &
  listener=$!
  for _ in $(seq 50); do [ -e "$2.up" ] && return 0; sleep 0.1; done
  fail "the notify listener did not start"
}

irun() { "$keel" run --root "$state" --store "$store" "${no_mknod[@]}" "$@"; }
containers() { ls -A "$state/containers" 2>/dev/null; }

case "$case_name" in
image)
  # From an image: Docker's defaults, the image's Env, Cmd and WorkingDir,
  # the exit status, and --rm taking the container and its root away.
  load_image
  out=$(irun --rm example.com/box:1 sh -c 'grep -E "CapEff|Seccomp:" /proc/self/status') ||
    fail "run: $out"
  [ "$out" = "CapEff:	$docker_caps
Seccomp:	2" ] || fail "capabilities, seccomp: $out"
  out=$(irun --rm example.com/box:1 sh -c 'cat /proc/kcore 2>/dev/null | wc -c; { echo x > /proc/sys/kernel/hostname; } 2>/dev/null || echo ro')
  [ "$out" = "0
ro" ] || fail "masked /proc/kcore, read-only /proc/sys: $out"
  out=$(irun --rm example.com/box:1 unshare -U true 2>&1) && fail "unshare -U succeeded"
  grep -q 'not permitted' <<<"$out" || fail "unshare -U: $out"
  out=$(irun --rm -e EXTRA=1 example.com/box:1 sh -c 'echo $GREETING $EXTRA $PATH; pwd; hostname')
  [ "$(echo "$out" | sed -n 1p)" = "from-image 1 /bin" ] || fail "env: $out"
  [ "$(echo "$out" | sed -n 2p)" = /tmp ] || fail "the image's WorkingDir: $out"
  grep -Eq '^[0-9a-f]{12}$' < <(sed -n 3p <<<"$out") || fail "hostname: $out"
  out=$(irun --rm -w / -u app example.com/box:1 sh -c 'pwd; id -u') || fail "run: $out"
  [ "$out" = "/
1000" ] || fail "-w, -u: $out"
  # The image's Cmd when no command is given.
  out=$(echo 'echo from-cmd' | irun --rm -i example.com/box:1) || fail "run the Cmd: $out"
  [ "$out" = from-cmd ] || fail "Cmd: $out"
  set +e
  irun --rm example.com/box:1 sh -c 'exit 9'
  status=$?
  set -e
  [ "$status" = 9 ] || fail "exit status $status, not 9"
  [ -z "$(containers)" ] || fail "--rm left $(containers)"
  [ -z "$(ls -A "$store/containers")" ] || fail "--rm left a root: $(ls "$store/containers")"
  pass ;;

lifecycle)
  # A named detached container: ps, inspect, a clashing name, stop, ps -a,
  # rm (which takes its root too), --replace.
  load_image
  # (Into a file: a detached container dies when the runtime's stdout is a
  # pipe, as in $(...) — a runtime bug still open.)
  irun -d --name web example.com/box:1 sleep 60 >"$work/id" || fail "run -d: $(cat "$work/id")"
  grep -q ' web$' < <("$keel" ps --root "$state") || fail "ps: $("$keel" ps -a --root "$state"; "$keel" oci --root "$state/run" list)"
  grep -q '"Status":"running"' < <("$keel" inspect --root "$state" web) || fail "inspect"
  out=$(irun -d --name web example.com/box:1 true 2>&1) && fail "a second web ran"
  grep -q 'named `web` exists' <<<"$out" || fail "clash: $out"
  "$keel" container stop --root "$state" -t 1 web >/dev/null || fail "stop"
  grep -q ' web$' < <("$keel" ps --root "$state") && fail "ps lists a stopped container"
  grep -q 'Exited ([0-9]*).*  web$' < <("$keel" ps -a --root "$state") || fail "ps -a: $("$keel" ps -a --root "$state")"
  "$keel" rm --root "$state" web >/dev/null || fail "rm"
  [ -z "$(containers)" ] || fail "rm left $(containers)"
  [ -z "$(ls -A "$store/containers")" ] || fail "rm left a root"
  irun -d --name web example.com/box:1 sleep 60 >"$work/id" || fail "run -d again"
  irun -d --name web --replace example.com/box:1 sleep 60 >"$work/id" || fail "--replace"
  [ "$(containers | wc -l)" = 1 ] || fail "--replace left $(containers)"
  "$keel" rm --root "$state" web 2>/dev/null && fail "rm of a running container succeeded"
  "$keel" container kill --root "$state" web >/dev/null || fail "kill"
  exited() { grep -q 'Exited ([0-9]*).*  web$' < <("$keel" ps -a --root "$state"); }
  for _ in $(seq 50); do exited && break; sleep 0.1; done
  exited || fail "kill: $("$keel" ps -a --root "$state")"
  "$keel" rm --root "$state" web >/dev/null || fail "rm after kill"
  irun -d --name web example.com/box:1 sleep 60 >"$work/id" || fail "run -d a third time"
  "$keel" rm --root "$state" -f web >/dev/null || fail "rm -f"
  [ -z "$(containers)" ] || fail "rm -f left $(containers)"
  [ -z "$(ls -A "$store/containers")" ] || fail "rm -f left a root"
  pass ;;


defaults)
  # Docker's 14 capabilities, masked and read-only /proc, a seccomp filter
  # that refuses user namespaces, the hostname from the id.
  out=$(krun "$rootfs" sh -c 'grep CapEff /proc/self/status') || fail "run: $out"
  [ "$out" = "CapEff:	$docker_caps" ] || fail "capabilities: $out"
  out=$(krun "$rootfs" sh -c 'grep Seccomp: /proc/self/status') || fail "run: $out"
  [ "$out" = "Seccomp:	2" ] || fail "seccomp: $out"
  # (Masked files read as /dev/null; /proc/kcore only where the kernel has it.)
  for file in /proc/interrupts /proc/kcore; do
    [ -e "$file" ] || continue
    out=$(krun "$rootfs" sh -c "cat $file | wc -c") || fail "run: $out"
    [ "$out" = 0 ] || fail "$file is not masked: $out bytes"
  done
  krun "$rootfs" sh -c '{ echo x > /proc/sys/kernel/hostname; } 2>/dev/null' &&
    fail "/proc/sys is writable"
  out=$(krun "$rootfs" unshare -U true 2>&1) && fail "unshare -U succeeded"
  grep -q 'not permitted' <<<"$out" || fail "unshare -U: $out"
  out=$(krun "$rootfs" hostname) || fail "run: $out"
  grep -Eq '^[0-9a-f]{12}$' <<<"$out" || fail "hostname: $out"
  out=$(krun "$rootfs" sh -c 'cat /etc/hostname; echo $HOSTNAME; echo $PATH; echo $HOME; pwd')
  host=$(echo "$out" | sed -n 1p)
  [ "$(echo "$out" | sed -n 2p)" = "$host" ] || fail "HOSTNAME: $out"
  [ "$(echo "$out" | sed -n 3p)" = /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ] ||
    fail "PATH: $out"
  [ "$(echo "$out" | sed -n 4p)" = /root ] || fail "HOME: $out"
  [ "$(echo "$out" | sed -n 5p)" = / ] || fail "cwd: $out"
  pass ;;

options)
  # -e, -w, -u, -h, --cap-drop and a read-only -v reach the container.
  echo host-file >"$work/shared"
  mkdir -p "$work/vol" && echo in-volume >"$work/vol/file"
  out=$(krun -e GREETING=hi -w /tmp -u app -h web "$rootfs" \
    sh -c 'echo $GREETING; pwd; id -u; id -G; hostname') || fail "run: $out"
  [ "$out" = "hi
/tmp
1000
1000 29
web" ] || fail "env, cwd, user, hostname: $out"
  out=$(krun -v "$work/vol:/data:ro" "$rootfs" sh -c 'cat /data/file; touch /data/new 2>&1; true')
  grep -q in-volume <<<"$out" || fail "volume: $out"
  grep -q 'Read-only file system' <<<"$out" || fail "ro volume written: $out"
  [ ! -e "$work/vol/new" ] || fail "ro volume written on the host"
  krun -v "$work/vol:/data" "$rootfs" touch /data/rw || fail "rw volume"
  [ -e "$work/vol/rw" ] || fail "rw volume not written through"
  out=$(krun --cap-drop ALL --cap-add CHOWN "$rootfs" sh -c 'grep CapEff /proc/self/status')
  [ "$out" = "CapEff:	0000000000000001" ] || fail "--cap-drop ALL --cap-add CHOWN: $out"
  out=$(krun --security-opt seccomp=unconfined "$rootfs" sh -c 'grep Seccomp: /proc/self/status')
  [ "$out" = "Seccomp:	0" ] || fail "seccomp=unconfined: $out"
  krun --read-only "$rootfs" touch /x 2>/dev/null && fail "--read-only root written"
  pass ;;

exit_status)
  # The container's exit status is keel run's; --rm leaves nothing behind.
  set +e
  krun "$rootfs" sh -c 'exit 7'
  status=$?
  set -e
  [ "$status" = 7 ] || fail "exit status $status, not 7"
  # Under --init the shell is not the namespace's pid 1, so SIGKILL reaches
  # it; keel's binary runs in the container, so it must be static.
  if grep -q 'statically linked' < <(file -L "$keel"); then
    set +e
    krun --init "$rootfs" sh -c 'kill -KILL $$'
    killed=$?
    set -e
    [ "$killed" = 137 ] || fail "killed under --init: status $killed, not 137"
  else
    echo "NOTE: --init not tested: $keel is not statically linked (build the default preset)"
  fi
  # Removed from outside while it runs (`keel rm -f`, a container unit's
  # ExecStop): keel run ends with the container's status, SIGKILL's, and
  # not with an error about the container it can no longer delete.
  # Removed once it runs: a record still "Created" is one keel run is
  # setting up, and removing that one is an error of its own.
  krun --name outside "$rootfs" sleep 30 &
  runner=$!
  for _ in $(seq 100); do
    grep -q 'Up.*outside\|outside.*Up' < <("$keel" ps --root "$state") && break
    sleep 0.1
  done
  "$keel" rm --root "$state" --force outside >/dev/null || fail "rm -f of a running container"
  set +e
  wait "$runner"
  removed=$?
  set -e
  [ "$removed" = 137 ] || fail "removed by rm -f: keel run's status $removed, not 137"
  [ -z "$(ls -A "$state/containers" 2>/dev/null)" ] || fail "--rm left $(ls "$state/containers")"
  "$keel" run --root "$state" "${no_mknod[@]}" --rootfs "$rootfs" true || fail "run without --rm"
  [ -n "$(ls -A "$state/containers")" ] || fail "without --rm the container's record is gone"
  pass ;;

refused)
  # Bad options are usage errors naming the flag; nothing is left behind.
  set +e
  out=$("$keel" run --root "$state" --memory 12x --rootfs "$rootfs" true 2>&1)
  status=$?
  set -e
  [ "$status" = 2 ] || fail "status $status for a bad --memory"
  grep -q -- '--memory: bad size' <<<"$out" || fail "message: $out"
  out=$("$keel" run --root "$state" -u ghost --rootfs "$rootfs" true 2>&1) && fail "unknown user ran"
  grep -q 'no user `ghost`' <<<"$out" || fail "message: $out"
  # keel stop's -t is a container's (docker stop -t), not a unit's.
  set +e
  out=$("$keel" stop -t 1 no-such.service 2>&1)
  status=$?
  set -e
  [ "$status" = 2 ] || fail "status $status for keel stop -t of a unit"
  grep -q -- '--time is for containers' <<<"$out" || fail "message: $out"
  if [ "$devices" = no ]; then
    out=$("$keel" run --root "$state" --cap-add MKNOD --rootfs "$rootfs" true 2>&1) &&
      fail "CAP_MKNOD was given where device rules cannot be enforced"
    grep -q 'CAP_MKNOD is refused' <<<"$out" || fail "message: $out"
  else
    echo "NOTE: device rules are enforced here: the CAP_MKNOD refusal has no host to run on"
  fi
  [ -z "$(ls -A "$state/containers" 2>/dev/null)" ] || fail "a refused run left a container"
  pass ;;

sdnotify)
  # --sdnotify=conmon (the default under $NOTIFY_SOCKET): keel run says
  # READY=1 with its own pid once the container's program runs;
  # =container: the socket is the container's, keel says nothing.
  command -v python3 >/dev/null || { echo "SKIP: no python3 to listen on a notify socket"; exit 77; }
  listen "$work/notify.sock" "$work/said"
  # (keel itself in the background, not the krun function: $! is its pid.)
  NOTIFY_SOCKET=$work/notify.sock "$keel" run --root "$state" --rm "${no_mknod[@]}" --rootfs \
    "$rootfs" sh -c 'sleep 0.3; echo $NOTIFY_SOCKET' \
    >"$work/out" & keel_pid=$!
  wait "$keel_pid" || fail "run with NOTIFY_SOCKET"
  [ "$(cat "$work/out")" = "" ] || fail "NOTIFY_SOCKET reached the container: $(cat "$work/out")"
  for _ in $(seq 20); do grep -q READY=1 "$work/said" && break; sleep 0.1; done
  grep -q "^READY=1 MAINPID=$keel_pid " "$work/said" || fail "conmon: $(cat "$work/said")"
  : >"$work/said"
  out=$(NOTIFY_SOCKET=$work/notify.sock krun --sdnotify container "$rootfs" \
    sh -c 'echo $NOTIFY_SOCKET; test -S /run/notify/notify.sock && echo socket') ||
    fail "run --sdnotify container: $out"
  [ "$out" = "/run/notify/notify.sock
socket" ] || fail "--sdnotify container: $out"
  sleep 0.3
  [ ! -s "$work/said" ] || fail "keel spoke for the container: $(cat "$work/said")"
  kill "$listener"
  pass ;;

bridge)
  # The default network: the container gets an address on keel0 (made in
  # this test's namespace), -p 8080:80 answers from here, two containers
  # reach each other by address, and nothing is left once they are gone.
  for tool in ip nft; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
  done
  drun() { "$keel" run --root "$state" "${no_mknod[@]}" -d "$@" >/dev/null; }
  drun --name web -p 8080:80 --rootfs "$rootfs" httpd -f -p 80 -h /www || fail "run -d -p 8080:80"
  addr=$("$keel" inspect --root "$state" web | grep -o '"IPAddress":"[0-9.]*"' | cut -d'"' -f4)
  grep -Eq '^10\.88\.[0-9]+\.[0-9]+$' <<<"$addr" || fail "address: $("$keel" inspect --root "$state" web)"
  # (busybox's nc for HTTP: its wget crashes on some hosts.)
  get='GET /index.html HTTP/1.0\r\n\r\n'
  got=
  for _ in $(seq 50); do
    got=$(printf "$get" | timeout 5 busybox nc 127.0.0.1 8080 2>/dev/null | tail -n 1) || true
    [ "$got" = hello-from-web ] && break
    sleep 0.1
  done
  [ "$got" = hello-from-web ] || fail "127.0.0.1:8080 got '$got'"
  got=$(krun "$rootfs" sh -c "printf '$get' | nc $addr 80 | tail -n 1; grep -c nameserver /etc/resolv.conf; grep -o '^10\.88[0-9.]*' /etc/hosts") ||
    fail "container to container: $got"
  [ "$(echo "$got" | sed -n 1p)" = hello-from-web ] || fail "container to container got '$got'"
  [ "$(echo "$got" | sed -n 2p)" -ge 1 ] || fail "no nameserver in resolv.conf: $got"
  grep -q '^10\.88\.' < <(sed -n 3p <<<"$got") || fail "/etc/hosts has no address: $got"
  "$keel" rm --root "$state" -f web >/dev/null || fail "rm -f web"
  [ -z "$(ls -A "$state/network" 2>/dev/null | grep -v lock)" ] || fail "leases left: $(ls "$state/network")"
  ! grep -q 'dport 8080' < <(nft list ruleset) || fail "8080's rule stayed: $(nft list ruleset)"
  left=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^keel' | grep -v '^keel0$' || true)
  [ -z "$left" ] || fail "veths left: $left"
  pass ;;

health)
  # A check that passes once a file appears: the container is starting,
  # then healthy (ps, inspect); with --sdnotify healthy READY=1 comes only
  # then.
  command -v python3 >/dev/null || { echo "SKIP: no python3 to listen on a notify socket"; exit 77; }
  listen "$work/notify.sock" "$work/said"
  mkdir -p "$work/vol"
  NOTIFY_SOCKET=$work/notify.sock "$keel" run --root "$state" "${no_mknod[@]}" --network none \
    --name web --sdnotify healthy --health-cmd 'test -e /vol/ready && echo fine' \
    --health-interval 200ms --health-retries 1000 -v "$work/vol:/vol" --rootfs "$rootfs" \
    sleep 30 & keel_pid=$!
  ps_says() { grep -q "(${1})  *web$" < <("$keel" ps --root "$state"); }
  for _ in $(seq 50); do ps_says starting && break; sleep 0.1; done
  ps_says starting || fail "not starting: $("$keel" ps -a --root "$state")"
  sleep 0.6
  [ ! -s "$work/said" ] || fail "READY=1 before the check passed: $(cat "$work/said")"
  grep -q '"Health":{"Status":"starting","FailingStreak":[1-9]' < <("$keel" inspect --root "$state" web) ||
    fail "inspect while starting: $("$keel" inspect --root "$state" web)"
  touch "$work/vol/ready"
  for _ in $(seq 50); do ps_says healthy && break; sleep 0.1; done
  ps_says healthy || fail "not healthy: $("$keel" ps -a --root "$state")"
  grep -Eq 'Up [^ ]+ seconds? \(healthy\)|Less than a second \(healthy\)' < <("$keel" ps --root "$state") ||
    fail "ps: $("$keel" ps --root "$state")"
  grep -q '"Status":"healthy","FailingStreak":0' < <("$keel" inspect --root "$state" web) ||
    fail "inspect: $("$keel" inspect --root "$state" web)"
  grep -q '"ExitCode":0,"Output":"fine' < <("$keel" inspect --root "$state" web) ||
    fail "inspect's log: $("$keel" inspect --root "$state" web)"
  for _ in $(seq 20); do grep -q READY=1 "$work/said" && break; sleep 0.1; done
  grep -q "^READY=1 MAINPID=$keel_pid " "$work/said" || fail "READY=1: $(cat "$work/said")"
  [ "$(grep -c READY=1 "$work/said")" = 1 ] || fail "READY=1 more than once: $(cat "$work/said")"
  "$keel" container stop --root "$state" -t 1 web >/dev/null || fail "stop"
  wait "$keel_pid" || true
  pass ;;

terminal)
  # keel run -t and -it under a pty of script's: the container's own pty
  # (tty, the outer window's size), input with -i only, the exit status,
  # and the outer terminal's mode as it was once keel has gone.
  command -v script >/dev/null || { echo "SKIP: no script (util-linux)"; exit 77; }
  cat >"$work/session.sh" <<EOF
stty rows 33 cols 101
"$keel" run --root "$state" --rm ${no_mknod[*]} -t --rootfs "$rootfs" sh -c 'tty; stty size; [ "\$(stat -L -c %t:%T /dev/console)" = "\$(stat -L -c %t:%T \$(tty))" ] && echo console=pty; exit 7'
echo "status=\$?"
stty -g >"$work/mode.before"
"$keel" run --root "$state" --rm ${no_mknod[*]} -it --rootfs "$rootfs" sh -c 'read line; echo "got:\$line"; exit 3'
echo "status=\$?"
stty -g >"$work/mode.after"
EOF
  out=$(printf 'hello\n' | timeout 30 script -qfec "sh $work/session.sh" /dev/null | tr -d '\r') ||
    fail "script: $out"
  grep -qx /dev/pts/0 <<<"$out" || fail "tty: $out"
  grep -qx '33 101' <<<"$out" || fail "stty size: $out"
  grep -qx console=pty <<<"$out" || fail "/dev/console is not the process's pty: $out"
  grep -qx status=7 <<<"$out" || fail "-t exit status: $out"
  grep -qx got:hello <<<"$out" || fail "-it input: $out"
  grep -qx status=3 <<<"$out" || fail "-it exit status: $out"
  [ -s "$work/mode.before" ] && [ "$(cat "$work/mode.before")" = "$(cat "$work/mode.after")" ] ||
    fail "the terminal's mode: $(cat "$work/mode.before") before, $(cat "$work/mode.after") after"
  # -t without -i: nothing of keel's stdin reaches the process.
  out=$(printf 'hello\n' | timeout 30 "$keel" run --root "$state" --rm "${no_mknod[@]}" \
    -t --rootfs "$rootfs" sh -c 'read -t 1 line; echo "got:$line"' | tr -d '\r') || fail "-t: $out"
  [ "$out" = "got:" ] || fail "-t without -i read input: $out"
  # -it with a pipe for stdin (no terminal to make raw): its end ends the input.
  out=$(printf 'a\nb\n' | timeout 30 "$keel" run --root "$state" --rm "${no_mknod[@]}" \
    -it --rootfs "$rootfs" sh -c 'cat >/tmp/in; wc -l </tmp/in' | tr -d '\r' | tail -1) ||
    fail "-it from a pipe: $out"
  [ "$(echo $out)" = 2 ] || fail "-it from a pipe: $out"
  # -d -t: the pty's output goes where a detached container's output goes
  # (without init, the keeper's log, which keel container logs shows).
  "$keel" run --root "$state" "${no_mknod[@]}" -d -t --name tty --rootfs "$rootfs" \
    sh -c 'tty; sleep 30' >"$work/detached.out" 2>&1 || fail "-d -t: $(cat "$work/detached.out")"
  tty_log() { "$keel" container logs --root "$state" tty 2>&1; }
  for _ in $(seq 50); do grep -q /dev/pts/0 < <(tty_log) && break; sleep 0.1; done
  grep -q /dev/pts/0 < <(tty_log) || fail "-d -t output: $(tty_log)"
  "$keel" rm --root "$state" -f tty >/dev/null || fail "rm -f"
  pass ;;

exec)
  # keel exec into a detached container: its namespaces, environment,
  # user, the options, exit statuses, stdin, a pty, docker exec, and the
  # errors for an unknown and a stopped container.
  "$keel" run --root "$state" "${no_mknod[@]}" -d --name web -h webhost -e FROM_RUN=1 \
    --rootfs "$rootfs" sleep 60 >"$work/id" 2>&1 || fail "run -d: $(cat "$work/id")"
  kexec() { timeout 30 "$keel" exec --root "$state" "$@"; }
  out=$(kexec web hostname) || fail "exec hostname: $out"
  [ "$out" = webhost ] || fail "hostname: $out"
  out=$(kexec web cat /proc/1/cmdline | tr '\0' ' ') || fail "exec cat: $out"
  [ "$out" = "sleep 60 " ] || fail "the container's pid 1: $out"
  out=$(kexec -e EXTRA=2 web sh -c 'echo $FROM_RUN $EXTRA $HOSTNAME; id -u') || fail "exec env: $out"
  [ "$out" = "1 2 webhost
0" ] || fail "environment, user: $out"
  out=$(kexec -u app -w /tmp web sh -c 'id -u; id -G; pwd') || fail "exec -u -w: $out"
  [ "$out" = "1000
1000 29
/tmp" ] || fail "-u, -w: $out"
  id=$(containers)
  id=${id:0:12}
  [ -n "$id" ] || fail "no container's id"
  out=$(kexec "$id" true) || fail "exec by id prefix: $out"
  set +e
  kexec web sh -c 'exit 5'; status=$?
  [ "$status" = 5 ] || fail "exit status $status, not 5"
  out=$(kexec web no-such-program 2>&1); status=$?
  [ "$status" = 127 ] || fail "a missing program: status $status: $out"
  touch "$rootfs/data/plain"
  out=$(kexec web /data/plain 2>&1); status=$?
  [ "$status" = 126 ] || fail "a file that is not executable: status $status: $out"
  # A missing -w directory is 126 naming it, as Docker's, not a missing
  # command's 127; so is a directory run as a program.
  out=$(kexec -w /no/such/dir web true 2>&1); status=$?
  [ "$status" = 126 ] || fail "a missing -w: status $status: $out"
  grep -q 'chdir to cwd ("/no/such/dir") set in config.json failed' <<<"$out" ||
    fail "a missing -w: $out"
  out=$(kexec web /data 2>&1); status=$?
  [ "$status" = 126 ] || fail "a directory as the program: status $status: $out"
  out=$(kexec web /no/such/program 2>&1); status=$?
  [ "$status" = 127 ] || fail "a missing absolute program: status $status: $out"
  out=$(kexec -e PATH=/data web plain 2>&1); status=$?
  [ "$status" = 126 ] || fail "a program on PATH that is not executable: status $status: $out"
  out=$(kexec -w /data -e PATH=/bin web sh -c pwd) || fail "exec -w /data: $out"
  [ "$out" = /data ] || fail "-w /data: $out"
  set -e
  # stdin only with -i.
  out=$(echo piped | kexec web cat) || fail "exec cat: $out"
  [ -z "$out" ] || fail "stdin reached the process without -i: $out"
  out=$(echo piped | kexec -i web cat) || fail "exec -i cat: $out"
  [ "$out" = piped ] || fail "-i: $out"
  out=$(printf 'typed\n' | kexec -it web sh -c 'read line; echo "got:$line"' | tr -d '\r') ||
    fail "exec -it from a pipe: $out"
  grep -qx got:typed <<<"$out" || fail "exec -it input: $out"
  # -it under a pty of script's: the container's own pty, the outer size.
  if command -v script >/dev/null; then
    out=$(timeout 30 script -qfec "stty rows 21 cols 77; $keel exec --root $state -it web sh -c 'tty; stty size; exit 4'; echo status=\$?" /dev/null </dev/null | tr -d '\r') ||
      fail "script: $out"
    grep -q '/dev/pts/0$' <<<"$out" || fail "exec -it tty: $out"
    # (script sends its own stdin's end into the pty: the container's pty
    # or the outer one may echo it, "^@" or "^D", before the size or the
    # status.)
    grep -q '21 77$' <<<"$out" || fail "exec -it stty size: $out"
    grep -qE '^(\^.)?status=4$' <<<"$out" || fail "exec -it status: $out"
  else
    echo "NOTE: no script (util-linux): exec -it under a pty not checked"
  fi
  # -d returns at once; the process goes on.
  kexec -d web sh -c 'sleep 0.2; echo later >/tmp/detached' || fail "exec -d"
  for _ in $(seq 50); do [ "$(kexec web cat /tmp/detached 2>/dev/null)" = later ] && break; sleep 0.1; done
  [ "$(kexec web cat /tmp/detached)" = later ] || fail "exec -d did not run"
  # docker exec through a docker link.
  ln -s "$keel" "$work/docker"
  out=$(timeout 30 "$work/docker" exec --root "$state" -e X=y web sh -c 'echo $X; hostname') ||
    fail "docker exec: $out"
  [ "$out" = "y
webhost" ] || fail "docker exec: $out"
  set +e
  out=$(kexec nosuch true 2>&1); status=$?
  [ "$status" = 1 ] && grep -q 'No such container: nosuch' <<<"$out" ||
    fail "an unknown container: status $status: $out"
  "$keel" container stop --root "$state" -t 1 web >/dev/null || fail "stop"
  out=$(kexec web true 2>&1); status=$?
  [ "$status" = 1 ] && grep -q 'container web is not running' <<<"$out" ||
    fail "a stopped container: status $status: $out"
  out=$("$work/docker" exec --root "$state" web true 2>&1); status=$?
  [ "$status" = 1 ] || fail "docker exec of a stopped container: status $status: $out"
  set -e
  pass ;;

userns)
  # --userns auto: root inside is the first id of a leased range outside;
  # the image's files (owned by the host's root in the store) are root's
  # inside through idmapped layers; what root writes belongs to the range
  # on the host; a volume owned by the host's root is nobody's and cannot
  # be written; the mapping shows in inspect; rm frees everything.
  load_image
  # The container's root must search the way to its root and /etc files.
  chmod 755 "$work"
  mkdir -p "$work/vol" && chmod 755 "$work/vol"
  out=$(irun --rm --userns auto -v "$work/vol:/vol" example.com/box:1 sh -c '
    id; cat /proc/self/uid_map; stat -c %u /bin/busybox; cat /etc/hostname >/dev/null && echo etc-readable
    touch /vol/x 2>/dev/null && echo vol-written || echo vol-refused; stat -c %u /vol') || fail "run: $out"
  grep -q '^uid=0(root) gid=0(root)' < <(sed -n 1p <<<"$out") || fail "id: $out"
  read -r inside outside count <<<"$(echo "$out" | sed -n 2p)"
  [ "$inside" = 0 ] && [ "$count" = 65536 ] && [ "$outside" -ge 1 ] || fail "uid_map: $out"
  [ "$(echo "$out" | sed -n 3p)" = 0 ] || fail "/bin/busybox is not root's inside: $out"
  [ "$(echo "$out" | sed -n 4p)" = etc-readable ] || fail "/etc/hostname: $out"
  [ "$(echo "$out" | sed -n 5p)" = vol-refused ] || fail "the host root's volume was written: $out"
  [ "$(echo "$out" | sed -n 6p)" = 65534 ] || fail "the host root's volume is not nobody's: $out"
  [ ! -e "$work/vol/x" ] || fail "a file appeared in the volume"
  # With :idmap the same volume is root's inside, and root's writes there
  # are the host root's.
  out=$(irun --rm --userns auto -v "$work/vol:/vol:idmap" example.com/box:1 sh -c '
    stat -c %u /vol; touch /vol/y && echo vol-written') || fail "run with :idmap: $out"
  [ "$out" = "0
vol-written" ] || fail "the idmapped volume: $out"
  [ "$(stat -c %u "$work/vol/y")" = 0 ] || fail "the file written through :idmap is $(stat -c %u "$work/vol/y")'s on the host"
  out=$(irun --rm -v "$work/vol:/vol:idmap" example.com/box:1 true 2>&1) && fail ":idmap without --userns was taken"
  grep -q ':idmap: maps the files as the container.s user namespace does, and there is none' <<<"$out" ||
    fail ":idmap without --userns: $out"
  [ -z "$(containers)" ] || fail "--rm left $(containers)"
  [ -z "$(ls -A "$store/containers")" ] || fail "--rm left a root"
  # A detached one: its files on the host belong to the range's first id.
  irun -d --name u1 --userns auto example.com/box:1 sh -c 'touch /made; sleep 60' >"$work/id" ||
    fail "run -d: $(cat "$work/id")"
  id1=$("$keel" inspect --root "$state" u1 | grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4)
  first=$("$keel" inspect --root "$state" u1 | grep -o '"uidMappings":\[{"containerID":0,"hostID":[0-9]*' | head -n 1 | grep -o '[0-9]*$')
  [ -n "$first" ] && [ "$first" -gt 0 ] || fail "inspect shows no mapping: $("$keel" inspect --root "$state" u1)"
  for _ in $(seq 50); do [ -e "$store/containers/$id1/upper/made" ] && break; sleep 0.1; done
  [ "$(stat -c %u:%g "$store/containers/$id1/upper/made" 2>&1)" = "$first:$first" ] ||
    fail "a file root made is $(stat -c %u:%g "$store/containers/$id1/upper/made" 2>&1) on the host, not $first:$first"
  grep -q "$first" "/proc/$("$keel" inspect --root "$state" u1 | grep -o '"Pid":[0-9]*' | cut -d: -f2)/uid_map" ||
    fail "the process's uid_map"
  # A second at once gets a range of its own.
  irun -d --name u2 --userns auto example.com/box:1 sleep 60 >"$work/id2" || fail "run -d u2: $(cat "$work/id2")"
  second=$("$keel" inspect --root "$state" u2 | grep -o '"uidMappings":\[{"containerID":0,"hostID":[0-9]*' | head -n 1 | grep -o '[0-9]*$')
  [ -n "$second" ] || fail "u2 has no mapping"
  [ $((second >= first + 65536 || first >= second + 65536)) = 1 ] || fail "ranges overlap: $first and $second"
  # The idmapped layers were detached once the overlay held them.
  awk -v p="$store/containers/$id1/lower/" 'index($5, p) == 1 { found = 1 } END { exit !found }' \
    /proc/self/mountinfo && fail "idmapped layers left mounted"
  awk -v p="$store/containers/$id1/merged" '$5 == p { found = 1 } END { exit !found }' \
    /proc/self/mountinfo || fail "the merged root is not in mountinfo: is the check above blind?"
  "$keel" rm --root "$state" -f u1 u2 >/dev/null || fail "rm -f"
  [ -z "$(containers)" ] || fail "rm left $(containers)"
  [ -z "$(ls -A "$store/containers")" ] || fail "rm left a root"
  # The freed range is leased again.
  irun -d --name u3 --userns auto example.com/box:1 sleep 60 >"$work/id3" || fail "run -d u3"
  third=$("$keel" inspect --root "$state" u3 | grep -o '"uidMappings":\[{"containerID":0,"hostID":[0-9]*' | head -n 1 | grep -o '[0-9]*$')
  [ "$third" = "$(( first < second ? first : second ))" ] || fail "the freed range $first was not leased again: $third"
  "$keel" rm --root "$state" -f u3 >/dev/null || fail "rm -f u3"
  pass ;;

userns_concurrent)
  # Runs started together never share a range (the choice is locked).
  load_image
  chmod 755 "$work"
  for n in 1 2 3 4; do
    irun -d --name "c$n" --userns auto:size=1000 example.com/box:1 sleep 60 >"$work/out$n" 2>&1 &
  done
  wait
  starts=$(for n in 1 2 3 4; do
    "$keel" inspect --root "$state" "c$n" | grep -o '"uidMappings":\[{"containerID":0,"hostID":[0-9]*,"size":1000' | head -n 1 | grep -o 'hostID":[0-9]*' | cut -d: -f2
  done | sort -n)
  [ "$(echo "$starts" | wc -l)" = 4 ] || fail "not four containers: $starts $(cat "$work"/out*)"
  prev=
  for s in $starts; do
    [ -z "$prev" ] || [ "$s" -ge $((prev + 1000)) ] || fail "ranges overlap: $(echo $starts)"
    prev=$s
  done
  "$keel" rm --root "$state" -f c1 c2 c3 c4 >/dev/null || fail "rm -f"
  pass ;;

userns_uidmap)
  # --uidmap gives exactly that map (and the gid map too); bridge
  # networking and a memory limit work in the namespace.
  load_image
  chmod 755 "$work"
  memory=()
  [ "$memcg" = no ] || memory=(--memory 64m)
  net=(--network none)
  command -v nft >/dev/null && command -v ip >/dev/null && net=()
  out=$(irun --rm "${net[@]}" "${memory[@]}" --uidmap 0:200000:65536 example.com/box:1 sh -c \
    'cat /proc/self/uid_map /proc/self/gid_map; id -u; grep -c . /etc/hosts') || fail "run: $out"
  [ "$(echo "$out" | sed -n 1p | tr -s ' ' | sed 's/^ //')" = "0 200000 65536" ] || fail "uid_map: $out"
  [ "$(echo "$out" | sed -n 2p | tr -s ' ' | sed 's/^ //')" = "0 200000 65536" ] || fail "gid_map: $out"
  [ "$(echo "$out" | sed -n 3p)" = 0 ] || fail "uid: $out"
  if [ ${#net[@]} = 0 ]; then
    irun -d --name web --uidmap 0:300000:65536 example.com/box:1 httpd -f -p 80 -h /www >/dev/null ||
      fail "run -d web"
    addr=$("$keel" inspect --root "$state" web | grep -o '"IPAddress":"[0-9.]*"' | cut -d'"' -f4)
    grep -Eq '^10\.88\.' <<<"$addr" || fail "no address: $("$keel" inspect --root "$state" web)"
    got=
    for _ in $(seq 50); do
      got=$(irun --rm --userns auto example.com/box:1 sh -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc $addr 80 | tail -n 1" 2>"$work/err") || true
      [ "$got" = hello-from-web ] && break
      sleep 0.1
    done
    [ "$got" = hello-from-web ] || fail "container to container: $got $(cat "$work/err")"
    "$keel" rm --root "$state" -f web >/dev/null || fail "rm -f web"
  else
    echo "NOTE: no ip or nft: the bridge under --uidmap is not tried"
  fi
  pass ;;

userns_refused)
  # Bad values fail naming the option, before anything is made.
  load_image
  # Only this test's mounts count: other tests running beside it (ctest -j)
  # mount and unmount in the same namespace.
  before=$(grep -c -- "$work" /proc/self/mountinfo || true)
  check() { # check WHAT... : keel run with WHAT fails saying $expect
    out=$(irun --rm "$@" example.com/box:1 true 2>&1) && fail "$* was taken"
    grep -q -- "$expect" <<<"$out" || fail "$*: $out"
  }
  expect='--userns: unknown mode `bogus`' check --userns bogus
  expect='--userns: auto size' check --userns auto:size=0
  expect='--uidmap: bad mapping `0:1`' check --uidmap 0:1
  expect='--uidmap: bad mapping `0:x:5`' check --uidmap 0:x:5
  expect='--uidmap: container id 0 is not mapped' check --uidmap 1:100000:10
  expect='overlap' check --uidmap 0:100000:10 --uidmap 5:200000:10
  expect='--gidmap' check --gidmap 0:100000:0
  expect='not with --userns host' check --userns host --uidmap 0:100000:10
  out=$("$keel" run --root "$state" --userns auto --rootfs "$rootfs" true 2>&1) && fail "--rootfs was taken"
  grep -q -- '--userns: needs an image' <<<"$out" || fail "--rootfs: $out"
  [ -z "$(containers)" ] || fail "left $(containers)"
  [ -z "$(ls -A "$store/containers" 2>/dev/null)" ] || fail "left a root"
  [ "$(grep -c -- "$work" /proc/self/mountinfo || true)" = "$before" ] ||
    fail "mounts left: $(grep -- "$work" /proc/self/mountinfo)"
  pass ;;

stdin)
  # Without -i the container's stdin is /dev/null, as Docker gives it, not
  # keel run's; with -i it is keel run's.
  out=$(echo piped | timeout 30 "$keel" run --root "$state" --rm "${no_mknod[@]}" --network none \
    --rootfs "$rootfs" cat) || fail "run cat: $out"
  [ -z "$out" ] || fail "stdin reached the container without -i: $out"
  out=$(echo piped | timeout 30 "$keel" run --root "$state" --rm "${no_mknod[@]}" --network none \
    -i --rootfs "$rootfs" cat) || fail "run -i cat: $out"
  [ "$out" = piped ] || fail "-i: the container read '$out'"
  pass ;;

publish_random)
  # -p CONTAINER_PORT (and -p IP::CONTAINER_PORT) publishes on a free host
  # port keel chose; keel port, ps and inspect (NetworkSettings.Ports in
  # Docker's shape) say which, and it answers there.
  for tool in ip nft; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
  done
  "$keel" run --root "$state" "${no_mknod[@]}" -d --name web -p 80 -p 127.0.0.1::81/udp \
    --rootfs "$rootfs" httpd -f -p 80 -h /www >/dev/null || fail "run -d -p 80"
  out=$("$keel" port --root "$state" web) || fail "keel port: $out"
  host=$("$keel" port --root "$state" web 80) || fail "keel port web 80: $host"
  grep -Eq '^0\.0\.0\.0:[0-9]+$' <<<"$host" || fail "keel port web 80: $host"
  port=${host##*:}
  [ "$port" -ne 80 ] && [ "$port" -ne 0 ] || fail "host port $port"
  udp=$("$keel" port --root "$state" web 81/udp) || fail "keel port web 81/udp: $udp"
  grep -Eq '^127\.0\.0\.1:[0-9]+$' <<<"$udp" || fail "keel port web 81/udp: $udp"
  [ "$out" = "80/tcp -> 0.0.0.0:$port
81/udp -> $udp" ] || fail "keel port: $out"
  "$keel" port --root "$state" web 82 >/dev/null 2>&1 && fail "keel port web 82 succeeded"
  grep -q "0\.0\.0\.0:$port->80/tcp, $udp->81/udp .*web$" < <("$keel" ps --root "$state") ||
    fail "ps: $("$keel" ps --root "$state")"
  "$keel" inspect --root "$state" web |
    grep -q "\"Ports\":{\"80/tcp\":\[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"$port\"}\]" ||
    fail "inspect: $("$keel" inspect --root "$state" web)"
  get='GET /index.html HTTP/1.0\r\n\r\n'
  got=
  for _ in $(seq 50); do
    got=$(printf "$get" | timeout 5 busybox nc 127.0.0.1 "$port" 2>/dev/null | tail -n 1) || true
    [ "$got" = hello-from-web ] && break
    sleep 0.1
  done
  [ "$got" = hello-from-web ] || fail "127.0.0.1:$port got '$got'"
  # A second container gets another port.
  "$keel" run --root "$state" "${no_mknod[@]}" -d --name web2 -p 80 --rootfs "$rootfs" \
    httpd -f -p 80 -h /www >/dev/null || fail "run -d web2"
  other=$("$keel" port --root "$state" web2 80) || fail "keel port web2"
  [ "${other##*:}" != "$port" ] || fail "both containers got port $port"
  "$keel" rm --root "$state" -f web web2 >/dev/null || fail "rm -f"
  ! grep -q "dport $port " < <(nft list ruleset) || fail "$port's rule stayed: $(nft list ruleset)"
  pass ;;

restart_on_failure)
  # --restart on-failure:2: the same container started again twice, then
  # it stays exited with its status; inspect's RestartCount says how often.
  # One that succeeds, or is stopped, is not restarted.
  set +e
  timeout 60 "$keel" run --root "$state" "${no_mknod[@]}" --network none --name flaky \
    --restart on-failure:2 --rootfs "$rootfs" sh -c 'echo run >>/data/runs; exit 3'
  status=$?
  set -e
  [ "$status" = 3 ] || fail "status $status, not 3"
  [ "$(grep -c run "$rootfs/data/runs")" = 3 ] || fail "ran $(grep -c run "$rootfs/data/runs") times, not 3"
  out=$("$keel" inspect --root "$state" flaky)
  grep -q '"RestartCount":2' <<<"$out" || fail "inspect: $out"
  grep -q '"Status":"exited"' <<<"$out" || fail "inspect: $out"
  grep -q '"ExitCode":3' <<<"$out" || fail "inspect: $out"
  grep -q 'Exited (3).*flaky$' < <("$keel" ps --root "$state" -a) || fail "ps -a: $("$keel" ps --root "$state" -a)"
  "$keel" run --root "$state" "${no_mknod[@]}" --network none --name fine \
    --restart on-failure:2 --rootfs "$rootfs" sh -c 'echo run >>/data/fine' || fail "run fine"
  [ "$(grep -c run "$rootfs/data/fine")" = 1 ] || fail "a success was restarted"
  grep -q '"RestartCount":0' < <("$keel" inspect --root "$state" fine) || fail "inspect fine"
  "$keel" run --root "$state" "${no_mknod[@]}" --network none --name stopped \
    --restart on-failure:5 --rootfs "$rootfs" sh -c 'echo run >>/data/stopped; exec sleep 30' &
  runner=$!
  for _ in $(seq 50); do
    grep -q ' stopped$' < <("$keel" ps --root "$state") && break
    sleep 0.1
  done
  "$keel" container stop --root "$state" -t 1 stopped >/dev/null || fail "stop"
  set +e
  wait "$runner"
  set -e
  [ "$(grep -c run "$rootfs/data/stopped")" = 1 ] || fail "a stopped container was restarted"
  grep -q '"RestartCount":0' < <("$keel" inspect --root "$state" stopped) || fail "inspect stopped"
  set +e
  out=$("$keel" run --root "$state" --rm --restart on-failure:2 --rootfs "$rootfs" true 2>&1)
  status=$?
  set -e
  [ "$status" = 2 ] || fail "--rm with --restart: status $status: $out"
  pass ;;

detached_exit)
  # keel run -d without init prints the container's id; its keeper
  # records how it ended after keel run has returned: ps -a's Exited (N), inspect's ExitCode,
  # FinishedAt and OOMKilled (cgroup v2's memory.events; where there is no
  # cgroup v2, keel says it cannot tell). The keeper keeps the container's
  # output (and its own notices) in the container's log, which keel logs
  # shows: none of keel run's descriptors stays open in it.
  drun() { "$keel" run --root "$state" "${no_mknod[@]}" --network none -d "$@"; }
  drun --name seven --rootfs "$rootfs" sh -c 'echo seven-out; echo seven-err >&2; sleep 0.3; exit 7' \
    >"$work/seven.id" 2>"$work/seven.out" || fail "run -d: $(cat "$work/seven.out")"
  grep -q 'a keeper process' "$work/seven.out" || fail "no notice: $(cat "$work/seven.out")"
  # The id is printed, as docker run -d prints it.
  grep -Eq '^[0-9a-f]{64}$' "$work/seven.id" || fail "no id printed: $(cat "$work/seven.id")"
  exited() { grep -q "Exited ($2).*  $1\$" < <("$keel" ps -a --root "$state"); }
  for _ in $(seq 100); do exited seven 7 && break; sleep 0.1; done
  exited seven 7 || fail "ps -a: $("$keel" ps -a --root "$state")"
  out=$("$keel" container logs --root "$state" seven 2>&1) || fail "logs seven: $out"
  [ "$out" = $'seven-out\nseven-err' ] || fail "logs seven: $out"
  out=$("$keel" container logs --root "$state" -n 1 seven 2>&1) || fail "logs -n 1 seven: $out"
  [ "$out" = seven-err ] || fail "logs -n 1 seven: $out"
  ! grep -q seven- "$work/seven.id" "$work/seven.out" || fail "the container's output went to keel run's"
  out=$("$keel" inspect --root "$state" seven)
  grep -q '"ExitCode":7' <<<"$out" || fail "inspect: $out"
  grep -q '"OOMKilled":false' <<<"$out" || fail "inspect: $out"
  grep -Eq '"FinishedAt":"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"' <<<"$out" || fail "inspect: $out"
  # Killed from outside (not through keel): 128 + 9. Its id read through a
  # pipe, as id=$(keel run -d ...) does: keel run's end is the pipe's.
  victim=$(timeout 30 "$keel" run --root "$state" "${no_mknod[@]}" --network none -d --name victim \
    --rootfs "$rootfs" sh -c 'echo victim-up; exec sleep 60' 2>"$work/victim.out") ||
    fail "run -d victim (status $?; 124: the pipe stayed open): $(cat "$work/victim.out")"
  [[ "$victim" =~ ^[0-9a-f]{64}$ ]] || fail "victim's id: $victim"
  # logs --follow: what the log has, then what comes, until the container ends.
  "$keel" container logs --root "$state" --follow victim >"$work/victim.follow" 2>&1 &
  follow=$!
  pid=$("$keel" inspect --root "$state" victim | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["State"]["Pid"])')
  [ "$pid" -gt 0 ] || fail "no pid: $("$keel" inspect --root "$state" victim)"
  kill -KILL "$pid"
  for _ in $(seq 100); do exited victim 137 && break; sleep 0.1; done
  exited victim 137 || fail "ps -a: $("$keel" ps -a --root "$state")"
  for _ in $(seq 50); do kill -0 "$follow" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$follow" 2>/dev/null; then
    kill "$follow"
    fail "logs --follow went on after the container ended: $(cat "$work/victim.follow")"
  fi
  wait "$follow" || fail "logs --follow: status $?: $(cat "$work/victim.follow")"
  [ "$(head -n 1 "$work/victim.follow")" = victim-up ] || fail "logs --follow: $(cat "$work/victim.follow")"
  if [ "$memcg" = yes ]; then
    # A memory hog under -m 8m (a string doubled until it does not fit:
    # busybox's $(...) drops NUL bytes, so /dev/zero would not do).
    drun --name hog -m 8m --rootfs "$rootfs" sh -c 'a=xxxxxxxx; while :; do a=$a$a; done' >"$work/hog.out" 2>&1 ||
      fail "run -d hog: $(cat "$work/hog.out")"
    for _ in $(seq 300); do exited hog 137 && break; sleep 0.1; done
    exited hog 137 || fail "the hog was not killed: $("$keel" ps -a --root "$state")"
    grep -q '"OOMKilled":true' < <("$keel" inspect --root "$state" hog) ||
      fail "inspect hog: $("$keel" inspect --root "$state" hog)"
    grep -q 'Exited (137) OOM-killed.*  hog$' < <("$keel" ps -a --root "$state") ||
      fail "ps -a: $("$keel" ps -a --root "$state")"
    grep -q '"OOMKilled":false' < <("$keel" inspect --root "$state" victim) || fail "victim OOMKilled"
    "$keel" rm --root "$state" hog >/dev/null || fail "rm hog"
  else
    # No -m without a memory cgroup; the SIGKILL above is what keel cannot tell.
    echo "NOTE: no memory cgroup: OOMKilled cannot be told; the notice is checked instead"
    "$keel" container logs --root "$state" victim |
      grep -q 'container victim was killed; it has no cgroup with memory counters, .* (State.OOMKilled stays false)' ||
      fail "no notice in the log: $("$keel" container logs --root "$state" victim 2>&1)"
  fi
  "$keel" rm --root "$state" seven victim >/dev/null || fail "rm"
  pass ;;

restart_manual_stop)
  # --restart always and on-failure, detached without init (the keeper
  # restarts): a crash (the process killed from outside) is restarted, the
  # same container again; `keel container kill` and `stop` are manual
  # stops, after which it stays exited.
  drun() { "$keel" run --root "$state" "${no_mknod[@]}" --network none -d "$@" >/dev/null 2>&1; }
  runs() { if [ -e "$rootfs/data/$1" ]; then grep -c run "$rootfs/data/$1" || true; else echo 0; fi; }
  # field NAME KEY: the first "KEY":VALUE of inspect's output (quotes dropped).
  field() { "$keel" inspect --root "$state" "$1" | grep -o "\"$2\":[^,}]*" | head -n 1 | cut -d: -f2 | tr -d '"'; }
  pid_of() { field "$1" Pid; }
  for policy in always on-failure; do
    name=svc-$policy
    drun --name "$name" --restart "$policy" --rootfs "$rootfs" \
      sh -c "echo run >>/data/$name; exec sleep 60" || fail "run -d $name"
    for _ in $(seq 100); do [ "$(runs "$name")" = 1 ] && [ "$(pid_of "$name")" -gt 0 ] && break; sleep 0.1; done
    id=$(field "$name" Id)
    kill -KILL "$(pid_of "$name")"
    for _ in $(seq 100); do [ "$(runs "$name")" = 2 ] && [ "$(pid_of "$name")" -gt 0 ] && break; sleep 0.1; done
    [ "$(runs "$name")" = 2 ] || fail "$name: a crash was not restarted ($(runs "$name") runs)"
    [ "$(field "$name" RestartCount)" = 1 ] || fail "$name: RestartCount $(field "$name" RestartCount)"
    [ "$(field "$name" Id)" = "$id" ] || fail "$name: not the same container"
    # (sleep is the namespace's pid 1, which SIGTERM does not end: stop's
    # SIGKILL after a second does, so both end with 137.)
    if [ "$policy" = always ]; then
      "$keel" container kill --root "$state" "$name" >/dev/null || fail "kill $name"
    else
      "$keel" container stop --root "$state" -t 1 "$name" >/dev/null || fail "stop $name"
    fi
    code=137
    for _ in $(seq 100); do [ "$(field "$name" Status)" = exited ] && break; sleep 0.1; done
    # Past the first back-off (100 ms, 200 ms for the second restart).
    sleep 1
    [ "$(runs "$name")" = 2 ] || fail "$name: restarted after a manual stop ($(runs "$name") runs)"
    [ "$(field "$name" Status)" = exited ] || fail "$name: $("$keel" inspect --root "$state" "$name")"
    [ "$(field "$name" ExitCode)" = "$code" ] ||
      fail "$name: ExitCode $(field "$name" ExitCode), not $code"
    [ "$(field "$name" RestartCount)" = 1 ] || fail "$name: restarted after the manual stop"
    if [ "$memcg" = no ]; then
      # The crash's SIGKILL is noted as perhaps the OOM killer's; the one
      # kill or stop sent is not.
      [ "$("$keel" container logs --root "$state" "$name" | grep -c 'was killed; it has no cgroup with memory counters')" = 1 ] ||
        fail "$name: the OOM notice is not there once: $("$keel" container logs --root "$state" "$name" 2>&1)"
    fi
  done
  # --restart always restarts a clean exit too; on-failure does not.
  drun --name clean-always --restart always --rootfs "$rootfs" \
    sh -c 'echo run >>/data/clean-always; [ "$(grep -c run /data/clean-always)" -ge 3 ] && exec sleep 60; exit 0' ||
    fail "run -d clean-always"
  for _ in $(seq 100); do [ "$(runs clean-always)" -ge 3 ] && break; sleep 0.1; done
  [ "$(runs clean-always)" = 3 ] || fail "always: $(runs clean-always) runs"
  # A stop while it waits for its next restart (the back-off doubling
  # from 100 ms) cancels that restart: at most a run already under way
  # follows, where two more would without the stop.
  drun --name looping --restart always --rootfs "$rootfs" sh -c 'echo run >>/data/looping; exit 1' ||
    fail "run -d looping"
  for _ in $(seq 100); do [ "$(runs looping)" -ge 5 ] && break; sleep 0.1; done
  "$keel" container stop --root "$state" -t 1 looping >/dev/null || fail "stop looping"
  before=$(runs looping)
  sleep 6
  [ "$(runs looping)" -le $((before + 1)) ] ||
    fail "restarted after a stop during its back-off: $before, then $(runs looping) runs"
  "$keel" rm --root "$state" -f svc-always svc-on-failure clean-always looping >/dev/null || fail "rm"
  pass ;;

*)
  echo "unknown case $case_name" >&2
  exit 2 ;;
esac
