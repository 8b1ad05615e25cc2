#!/bin/sh
# Guest side of rootfs_clean_shutdown. Runs from the disk root; $1 says
# which boot this is:
#   busy      make /var, /home and /etc busy in every way PID 1's shutdown
#             has to deal with, then power off
#   check N LAST NEXT
#             the journal of the last boot, which ended with LAST, is on
#             disk up to its last lines (N shutdowns so far); then end the
#             system with NEXT (reboot, halt or poweroff)
exec >/dev/console 2>&1
mode=$1

fail() {
  echo "CLEAN: FAIL: $*"
  keel poweroff
  exit 1
}

case "$mode" in
  busy)
    # A process outside any unit that ignores SIGTERM with a file on /home
    # open for writing: keel's last SIGKILL ends it.
    mkdir -p /home/user
    sh -c 'trap "" TERM; exec 3>>/home/user/open.log; while :; do echo tick >&3; sleep 1; done' &
    # A file on /etc held by the kernel, not a process: a read-only loop
    # device. The /etc overlay cannot be unmounted; STATE under it must
    # still end read-only, so clean.
    dd if=/dev/zero of=/etc/loop.img bs=64k count=16 2>/dev/null || fail "cannot write /etc/loop.img"
    losetup -r /dev/loop0 /etc/loop.img || fail "losetup -r /dev/loop0 /etc/loop.img failed"
    keel status holder >/dev/null || fail "holder.service is not known"
    echo "CLEAN: busy, powering off"
    keel poweroff
    ;;
  check)
    shutdowns=$2 last=$3 next=$4
    journal=/var/log/keel/journal.log
    [ -f "$journal" ] || fail "no $journal"
    count() { grep -c -- "$1" "$journal"; }
    [ "$(count 'holder: SIGTERM ignored')" -ge "$shutdowns" ] ||
      fail "holder.service's lines from the last shutdown are not all in $journal"
    [ "$(count 'did not stop within 2 s, sending SIGKILL')" -ge "$shutdowns" ] ||
      fail "keel's lines about killing holder.service are not all in $journal"
    grep -q 'processes still running after 2000 ms; sending SIGKILL' "$journal" ||
      fail "keel's line about the SIGKILL of the first shutdown is not in $journal"
    # keel's last line before it closes the journal, once per shutdown.
    [ "$(count 'closing the journal for')" = "$shutdowns" ] ||
      fail "$journal has $(count 'closing the journal for') of keel's last lines, not $shutdowns"
    grep 'closing the journal for' "$journal" | tail -n 1 | grep -q "for $last\$" ||
      fail "keel's last line in $journal is not the one before the $last: $(grep 'closing the journal' "$journal" | tail -n 1)"
    grep -q tick /home/user/open.log || fail "/home/user/open.log lost its lines"
    echo "CLEAN: the journal holds the last boot to its end; ending with $next"
    keel "$next"
    ;;
  *)
    fail "unknown mode '$mode'"
    ;;
esac
