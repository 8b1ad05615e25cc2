#!/bin/sh
# A/B install as the booted system does it: mounts the payload disk
# (/dev/vdb, ext4) at /run/payload (the root is read-only), says which
# image runs (its hostname), and per word: `good` marks the booted slot good, `install:DIR` installs the
# payload /run/payload/DIR into the other slot (`keel update install`),
# `http:DIR` the same payload served by busybox httpd on 127.0.0.1:8080,
# `source` what the update source (that server, channel stable) offers
# (`keel update check`, then `keel update install` without a payload),
# `status` prints the slots. Ends with keel poweroff.
echo "INSTALL: running $(cat /etc/hostname)"
mkdir -p /run/payload
mount -t ext4 -o ro /dev/vdb /run/payload || echo "INSTALL: FAIL mount"
serving=0
serve() {
    [ "$serving" = 1 ] && return
    ip link set lo up
    httpd -p 127.0.0.1:8080 -h /run/payload || echo "INSTALL: FAIL httpd"
    serving=1
}
for step in "$@"; do
    case "$step" in
        good) keel update mark-good || echo "INSTALL: FAIL mark-good" ;;
        install:*) keel update install "/run/payload/${step#install:}" --progress-file /run/progress ||
            echo "INSTALL: FAIL install" ;;
        http:*)
            serve
            keel update install "http://127.0.0.1:8080/${step#http:}/" --progress-file /run/progress ||
                echo "INSTALL: FAIL install" ;;
        source)
            serve
            printf '[Update]\nSource=http://127.0.0.1:8080/\nChannel=stable\n' >/etc/keel/update.conf
            keel update check || echo "INSTALL: FAIL check"
            keel update install --progress-file /run/progress || echo "INSTALL: FAIL install" ;;
        status) keel update status || echo "INSTALL: FAIL status" ;;
    esac
done
echo "INSTALL: PASS"
keel poweroff
