#!/bin/sh
# Guest side of module_load: keel.modules=ext4,overlay must have loaded ext4
# with its dependencies (jbd2, mbcache, crc16) and overlay (stored as .ko.xz).
exec >/dev/console 2>&1

fail() {
  echo "MODULE_LOAD: FAIL: $*"
  echo "/proc/modules:"
  cat /proc/modules
  keel poweroff
  exit 1
}

for m in ext4 jbd2 mbcache crc16 overlay; do
  grep -q "^$m " /proc/modules || fail "module $m is not in /proc/modules"
done
grep -qw ext4 /proc/filesystems || fail "ext4 is not in /proc/filesystems"
grep -qw overlay /proc/filesystems || fail "overlay is not in /proc/filesystems"

echo "MODULE_LOAD: PASS"
keel poweroff
