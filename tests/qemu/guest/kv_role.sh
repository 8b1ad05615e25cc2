#!/bin/sh
# shellcheck shell=dash
# Guest side of tests/qemu/kv_role.sh, run by keel.run= on a keel disk
# whose root has Debian's etcdctl. $1 says what to check:
#   serve  keel.kv.name=m1 is on the kernel command line: keel-kv.service
#          becomes active, etcdctl puts and gets a key on 127.0.0.1:2379,
#          the data dir /var/lib/keel/kv is on STATE (ext4), and the
#          member killed with SIGKILL is restarted with the key still there
#   bad    keel.kv.heartbeat-interval=soon is too: keel-kv.service fails,
#          its journal names --heartbeat-interval, PID 1 carries on
# Each check prints one line the host side looks for:
#   KV_NAME: PASS: what was seen
#   KV_NAME: FAIL: why
# then KV_ROLE: DONE, and the guest powers off.
exec >/dev/console 2>&1
PATH=/usr/bin:/bin:/sbin:/usr/sbin
ETCDCTL_API=3
export PATH ETCDCTL_API
mode=$1

# shellcheck source-path=SCRIPTDIR source=check_lib.sh
. /lib/keel-test/check_lib.sh
# restarted: keel-kv.service is active with another main pid than $first.
restarted() {
  pid=$(main_pid keel-kv.service)
  [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "$first" ] && is_active keel-kv.service
}

pass() { echo "KV_$1: PASS: $2"; }
fail() { echo "KV_$1: FAIL: $2"; }

etcdctl_() { etcdctl --endpoints 127.0.0.1:2379 --command-timeout 5s "$@"; }
value_is() { [ "$(etcdctl_ get --print-value-only "$1" 2>/dev/null)" = "$2" ]; }

# Filesystem type of the mount holding $1 (the longest mount point above it).
fstype_of() {
  awk -v p="$1" '{ m = $5; if ((p == m || index(p, m == "/" ? "/" : m "/") == 1) && length(m) >= best) {
      best = length(m); for (i = 7; $i != "-"; i++) ; t = $(i + 1) } } END { print t }' \
    /proc/self/mountinfo
}

done_() {
  echo "--- keel status keel-kv.service"
  keel status keel-kv.service
  echo "--- keel logs -n 40 keel-kv.service"
  keel logs -n 40 keel-kv.service
  echo "KV_ROLE: DONE"
  keel poweroff
  exit 0
}

case "$mode" in
serve)
  if wait_for 60 is_active keel-kv.service; then
    pass ACTIVE "keel-kv.service is $(state keel-kv.service), main pid $(main_pid keel-kv.service)"
  else
    fail ACTIVE "keel-kv.service is $(state keel-kv.service), not active"
    done_
  fi
  if wait_for 30 etcdctl_ put greeting hello && value_is greeting hello; then
    pass PUT_GET "etcdctl put greeting hello, get gives $(etcdctl_ get --print-value-only greeting)"
  else
    fail PUT_GET "etcdctl: $(etcdctl_ put greeting hello 2>&1 | tail -n 1)"
  fi
  type=$(fstype_of /var/lib/keel/kv)
  if [ -d /var/lib/keel/kv/wal ] && [ "$type" = ext4 ]; then
    pass STATE "/var/lib/keel/kv holds wal/ and is on $type (STATE)"
  else
    fail STATE "/var/lib/keel/kv: $(find /var/lib/keel/kv -maxdepth 1 2>&1 | tr '\n' ' '), on ${type:-nothing}"
  fi
  first=$(main_pid keel-kv.service)
  if [ -n "$first" ] && [ "$first" != 0 ] && kill -9 "$first"; then
    if wait_for 30 restarted && wait_for 30 value_is greeting hello; then
      pass RESTART "killed pid $first, restarted as $(main_pid keel-kv.service), greeting is still hello"
    else
      fail RESTART "after kill -9 $first: $(state keel-kv.service), pid $(main_pid keel-kv.service), greeting $(etcdctl_ get --print-value-only greeting 2>&1 | tail -n 1)"
    fi
  else
    fail RESTART "no main pid to kill: $(main_pid keel-kv.service)"
  fi
  done_
  ;;
bad)
  if wait_for 60 is_failed keel-kv.service; then
    pass FAILED "keel-kv.service is $(state keel-kv.service)"
  else
    fail FAILED "keel-kv.service is $(state keel-kv.service), not failed"
  fi
  if keel logs -n 500 keel-kv.service | grep -q -- '--heartbeat-interval'; then
    pass MESSAGE "$(keel logs -n 500 keel-kv.service | grep -m 1 -- '--heartbeat-interval')"
  else
    fail MESSAGE "no line naming --heartbeat-interval in keel logs keel-kv.service"
  fi
  if is_active multi-user.target; then
    pass BOOT "multi-user.target is $(state multi-user.target)"
  else
    fail BOOT "multi-user.target is $(state multi-user.target)"
  fi
  done_
  ;;
*)
  echo "KV_ROLE: FAIL: unknown mode $mode"
  keel poweroff
  ;;
esac
