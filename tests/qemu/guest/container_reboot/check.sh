#!/bin/sh
# shellcheck shell=dash
# Guest side of tests/qemu/container_reboot.sh, run by keel.run= on a keel
# disk. `first`: four detached containers under init (always-a,
# unless-b stopped by hand, plain-c, web-d on the bridge), then a reboot.
# `second`: what docker.service's `keel container start --boot` made of
# them.
# A failed check prints CONTAINER_REBOOT: FAIL (the host stops there).
exec >/dev/console 2>&1
PATH=/usr/bin:/bin:/sbin:/usr/sbin
export PATH
IMAGE=localhost/busybox:test
mode=$1

# shellcheck source-path=SCRIPTDIR source=../check_lib.sh
. /lib/keel-test/check_lib.sh
fail() {
  echo "--- keel ps -a"
  keel ps -a
  echo "--- keel logs -n 40"
  keel logs -n 40
  echo "CONTAINER_REBOOT: FAIL: $*"
  keel poweroff
  sleep 600
}
# field NAME KEY: inspect's first "KEY":VALUE (quotes dropped).
field() { keel inspect "$1" | grep -o "\"$2\":[^,}]*" | head -n 1 | cut -d: -f2- | tr -d '"'; }
# Lines the container wrote into /boots of its own root (its upper directory).
boots_of() {
  f=/var/lib/keel/containers/$(field "$1" Id)/upper/boots
  if [ -e "$f" ]; then wc -l <"$f"; else echo 0; fi
}
# A container that notes each start in its root and ends at SIGTERM.
run_d() {
  name=$1
  shift
  keel run -d --network none --name "$name" "$@" "$IMAGE" \
    sh -c 'echo boot >>/boots; echo "up, boot $(wc -l </boots)"; trap "exit 0" TERM; while :; do sleep 1; done' >/tmp/run.out 2>&1 ||
    fail "keel run -d $name: $(cat /tmp/run.out)"
}

# web-d: httpd on keel's bridge, 127.0.0.1:8082 published; its page says
# which start of the container served it.
run_web() {
  # shellcheck disable=SC2016 # expanded in the container
  keel run -d --name web-d --restart always -p 127.0.0.1:8082:8080 "$IMAGE" \
    sh -c 'mkdir -p /w; echo boot >>/boots; echo "web-d start $(wc -l </boots)" >/w/index.html
      httpd -f -p 8080 -h /w & trap "exit 0" TERM; wait' >/tmp/run.out 2>&1 ||
    fail "keel run -d web-d: $(cat /tmp/run.out)"
}
# web_answers START: GET 127.0.0.1:8082 and GET at web-d's bridge address
# both give start START's page.
web_answers() {
  [ "$(get 127.0.0.1 8082)" = "web-d start $1" ] &&
    [ "$(get "$(field web-d IPAddress)" 8080)" = "web-d start $1" ]
}

wait_for 60 is_active busybox-image.service || fail "busybox-image.service: $(state busybox-image.service)"
wait_for 60 is_active docker.service || fail "docker.service: $(state docker.service)"

case "$mode" in
first)
  run_d always-a --restart always
  run_d unless-b --restart unless-stopped
  run_d plain-c --restart no
  run_web
  wait_for 30 web_answers 1 ||
    fail "web-d: GET 127.0.0.1:8082 gave $(get 127.0.0.1 8082) $(get_error); at $(field web-d IPAddress): $(get "$(field web-d IPAddress)" 8080)"
  for c in always-a unless-b plain-c; do
    wait_for 30 eq 1 boots_of $c || fail "$c did not start: $(boots_of $c) lines"
  done
  # keel stop takes a container's name where no unit has it, and -t as
  # docker stop does.
  keel stop -t 2 unless-b >/dev/null || fail "keel stop -t 2 unless-b"
  wait_for 30 eq exited field unless-b Status || fail "unless-b: $(field unless-b Status)"
  keel ps
  echo "CONTAINER_REBOOT: FIRST BOOT DONE"
  keel reboot
  sleep 600
  ;;
second)
  keel ps -a
  keel logs docker.service -n 20
  wait_for 30 eq running field always-a Status || fail "always-a: $(field always-a Status)"
  is_active container-always-a.service || fail "container-always-a.service: $(state container-always-a.service)"
  [ "$(boots_of always-a)" = 2 ] || fail "always-a wrote $(boots_of always-a) lines in its root, not 2"
  [ "$(keel exec always-a cat /boots | wc -l)" = 2 ] || fail "exec: $(keel exec always-a cat /boots 2>&1)"
  echo "CONTAINER_REBOOT: always-a runs again, in the same root (/boots: 2 lines)"
  wait_for 30 web_answers 2 ||
    fail "web-d after the reboot: GET 127.0.0.1:8082 gave $(get 127.0.0.1 8082) $(get_error); at $(field web-d IPAddress): $(get "$(field web-d IPAddress)" 8080); $(keel network ls 2>&1)"
  echo "CONTAINER_REBOOT: web-d answers again on 127.0.0.1:8082 and at $(field web-d IPAddress) (its second start)"
  for c in unless-b plain-c; do
    [ "$(field $c Status)" = exited ] || fail "$c: $(field $c Status)"
    [ "$(boots_of $c)" = 1 ] || fail "$c ran again: $(boots_of $c) lines"
  done
  keel ps | grep -q ' always-a$' || fail "keel ps does not list always-a"
  keel ps | grep -Eq ' (unless-b|plain-c)$' && fail "keel ps claims a stopped one runs"
  keel ps -a | grep -Eq 'Exited .* unless-b$' || fail "keel ps -a: unless-b"
  keel ps -a | grep -Eq 'Exited .* plain-c$' || fail "keel ps -a: plain-c"
  keel logs docker.service | grep -q 'container always-a started (--restart always)' ||
    fail "docker.service's journal: $(keel logs docker.service 2>&1)"
  echo "CONTAINER_REBOOT: unless-b (stopped by hand) and plain-c (--restart no) stay exited"
  # keel logs and keel kill take a container's name too.
  keel logs always-a | grep -q 'up, boot 2' || fail "keel logs always-a: $(keel logs always-a 2>&1)"
  keel kill always-a >/dev/null || fail "keel kill always-a"
  wait_for 30 eq exited field always-a Status || fail "always-a after keel kill: $(field always-a Status)"
  echo "CONTAINER_REBOOT: keel stop, logs and kill take containers' names"
  echo "CONTAINER_REBOOT: PASS"
  keel poweroff
  sleep 600
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
