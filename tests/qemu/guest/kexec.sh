#!/bin/sh
# tests/qemu/update_kexec.sh's guest side; runs in every boot that reaches
# the root (keel.run=). Each boot prints its command line and the slots.
# The first (keel.test.second absent): a file that is no kernel is refused
# by `keel reboot --kexec --kernel` and the machine stays up, then `keel
# reboot --kexec` restarts the same kernel with keel.test.second=1 added.
# The second powers off.
fail() { echo "KEXEC: FAIL $*"; keel poweroff; exit 1; }
echo "KEXEC: cmdline=$(cat /proc/cmdline)"
keel update status || fail "keel update status"
if ! grep -q 'keel.test.second=1' /proc/cmdline; then
    if out=$(keel reboot --kexec --kernel /etc/hostname 2>&1); then
        fail "a kexec of /etc/hostname was accepted: $out"
    fi
    echo "KEXEC: bad kernel refused: $out"
    [ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || fail "a kernel is loaded after the refusal"
    keel status >/dev/null || fail "init does not answer after the refusal"
    echo "KEXEC: still up"
    # Init ends this script with the rest of the system.
    keel reboot --kexec --reuse-cmdline --append keel.test.second=1 || fail "keel reboot --kexec"
    exit 0
fi
echo "KEXEC: PASS"
keel poweroff
