#!/bin/sh
# Guest side of the rootfs_* tests. Runs from the disk root, after the
# initramfs switched to it. $1 says what to check:
#   readonly  the mount plan; writing to / fails with EROFS; PID 1 is keel
#             from the new root
#   write     /etc/foo, /var/x, /home/user/file are new; write them
#   check     they hold what `write` wrote (a reboot later)
#   wiped     they are gone (keel.state=wipe)
# Every mode prints MACHINE_ID=<id> and ends with keel poweroff.
exec >/dev/console 2>&1
mode=$1

fail() {
  echo "ROOTFS: FAIL: $*"
  echo "mountinfo:"
  cat /proc/self/mountinfo
  keel poweroff
  exit 1
}

pass() {
  echo "ROOTFS: PASS: $*"
  keel poweroff
  exit 0
}

# Filesystem type of the mount at $1 (the field after "-" in mountinfo).
fstype() {
  awk -v m="$1" '$5 == m { for (i = 7; $i != "-"; i++) ; t = $(i + 1) } END { print t }' \
    /proc/self/mountinfo
}

machine_id=$(cat /etc/machine-id) || fail "no /etc/machine-id"
echo "$machine_id" | grep -Eq '^[0-9a-f]{32}$' || fail "bad /etc/machine-id: $machine_id"
echo "MACHINE_ID=$machine_id"

for expect in /:erofs /etc:overlay /var:ext4 /home:ext4 /opt:ext4 /srv:ext4 /tmp:tmpfs /run:tmpfs \
  /proc:proc /sys:sysfs /dev:devtmpfs; do
  point=${expect%%:*}
  type=$(fstype "$point")
  [ "$type" = "${expect#*:}" ] || fail "$point is mounted as '$type', expected ${expect#*:}"
done
exe=$(readlink /proc/1/exe)
[ "$exe" = /usr/bin/keel ] || fail "PID 1 runs '$exe', not /usr/bin/keel from the disk root"

case "$mode" in
  readonly)
    for path in /rootfs-write /usr/bin/rootfs-write; do
      out=$(touch "$path" 2>&1) && fail "writing $path on the read-only root succeeded"
      case "$out" in
        *"Read-only file system"*) ;;
        *) fail "writing $path failed, but not with EROFS: $out" ;;
      esac
    done
    args=$(tr '\0' ' ' </proc/1/cmdline)
    [ "$args" = "/usr/bin/keel init --system " ] || fail "PID 1's command line is '$args'"
    [ ! -e /init ] || fail "/init exists: the initramfs is still the root"
    [ "$(hostname)" = keel-disk ] || fail "hostname is '$(hostname)', not keel-disk from the image's /etc/hostname"
    for dir in /etc /var /home /tmp /run; do
      echo test >"$dir/rootfs-test" || fail "$dir is not writable"
      rm "$dir/rootfs-test" || fail "cannot remove $dir/rootfs-test"
    done
    pass "read-only erofs root, /etc overlay, STATE binds, keel from the disk as PID 1"
    ;;
  write)
    for path in /etc/foo /var/x /home/user/file; do
      [ ! -e "$path" ] || fail "$path exists before this boot wrote it"
    done
    echo persist-etc >/etc/foo || fail "cannot write /etc/foo"
    echo persist-var >/var/x || fail "cannot write /var/x"
    mkdir -p /home/user || fail "cannot make /home/user"
    echo persist-home >/home/user/file || fail "cannot write /home/user/file"
    pass "wrote /etc/foo, /var/x, /home/user/file"
    ;;
  check)
    [ "$(cat /etc/foo 2>&1)" = persist-etc ] || fail "/etc/foo: $(cat /etc/foo 2>&1)"
    [ "$(cat /var/x 2>&1)" = persist-var ] || fail "/var/x: $(cat /var/x 2>&1)"
    [ "$(cat /home/user/file 2>&1)" = persist-home ] || fail "/home/user/file: $(cat /home/user/file 2>&1)"
    pass "/etc/foo, /var/x, /home/user/file survived the reboot"
    ;;
  wiped)
    for path in /etc/foo /var/x /home/user; do
      [ ! -e "$path" ] || fail "$path survived keel.state=wipe"
    done
    pass "keel.state=wipe reset STATE"
    ;;
  *)
    fail "unknown mode '$mode'"
    ;;
esac
