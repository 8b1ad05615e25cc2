#!/bin/sh
# Runs inside the demo VM, started by keel (keel.run=) on the keel disk
# tools/demo.sh built: shows the disk keel booted, the image store on
# STATE, the container unit web.container running busybox httpd, `keel
# ps`, a request answered by the container and its log, then powers the VM
# off through keel's control socket.
#
# Its last word is one of the lines tools/demo.sh looks for:
#   demo: OK                 the container ran and answered
#   demo: FAILED: why        something a user would call broken
exec >/dev/console 2>&1
PATH=/usr/bin:/bin:/sbin:/usr/sbin
export PATH

step() { printf '\n== demo: %s\n' "$*"; }
end() {
  step "keel poweroff: units stopped (the container with them), filesystems unmounted"
  echo "demo: $*"
  keel poweroff
  sleep 600
}

# state UNIT: "active/running", "activating/start", ... from keel status.
state() {
  keel status "$1" --json 2>/dev/null |
    sed -n 's/.*"active_state":"\([a-z-]*\)","sub_state":"\([a-z-]*\)".*/\1\/\2/p'
}
# wait_active SECONDS UNIT: true once UNIT is active; false if it failed
# or the time ran out.
wait_active() {
  i=0
  while [ "$i" -lt "$(($1 * 2))" ]; do
    case "$(state "$2")" in
      active/*) return 0 ;;
      failed/*) return 1 ;;
    esac
    sleep 0.5
    i=$((i + 1))
  done
  return 1
}

step "keel booted a disk: the root is erofs, read-only; /etc, /var, ... live on STATE"
awk '$2 ~ /^\/(etc|var|home)?$/ {print "  " $2 " (" $3 ")"}' /proc/mounts

step "the image, imported into the store on STATE by busybox-image.service"
wait_active 60 busybox-image.service || keel status busybox-image -n 10
keel image ls

step "web.container, a container unit in Quadlet's syntax, is web.service"
sed -n '/^\[Container\]/,/^$/p' /etc/keel/units/web.container
echo
keel status web -n 0 | sed -n '1,4p'

step "waiting for web.service: ready once the container's health check passes"
if ! wait_active 90 web.service; then
  keel status web -n 15
  why=$(keel logs web | grep 'web.service: keel: ' | grep -v -m 1 'no container' | sed 's/^.*web.service: //')
  end "FAILED: web.service is $(state web.service): $why"
fi
keel list-units

step "keel ps: the container keel runs for web.service"
keel ps

step "GET http://127.0.0.1:8080/ on the host: the port is published from the container"
reply=$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 127.0.0.1 8080 2>&1 | tr -d '\r')
echo "$reply" | sed 's/^/  /'

step "keel logs web: the container's output, in the journal"
keel logs -n 6 web

case "$reply" in
  *"Hello from a busybox container"*) end OK ;;
  *) end "FAILED: the container did not answer" ;;
esac
