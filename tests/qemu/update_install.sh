#!/usr/bin/env bash
# update_install: A -> B -> A through signed payloads, as a machine updates
# itself. Two images are made with tools/mkimage --sign-key (hostnames keel-a
# and keel-b, versions 1.0.0 and 2.0.0); the first is the disk, both
# payloads go on a second disk. Each slot boots through dm-verity with the
# root hash from the manifest in its footer.
#   1. A runs, installs B over HTTP (busybox httpd on the guest's 127.0.0.1
#      serving the payload disk): B boots next, once (priority 2 tries 1
#      successful 0), A untouched.
#   2. B boots (its try used), runs keel-b, is marked good, installs A back
#      from the payload disk's files.
#   3. A boots again, runs keel-a, is marked good; its update source (the
#      same server, channels/stable.json) offers 2.0.0: `keel update check`
#      says so and `keel update install` without a payload installs it.
# Usage: update_install.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"
export PATH="$PATH:/usr/sbin:/sbin"
command -v openssl >/dev/null || { echo "SKIP: openssl is not installed"; exit 77; }

qt_update_dirs
keys=$QT_KEYS payloads=$QT_PAYLOADS
image() { # HOSTNAME VERSION: mkimage with the payload kept in $payloads/HOSTNAME
  qt_mkimage --busybox --hostname "$1" --file "$QT_GUEST/install.sh:/install.sh" \
    --sign-key "$keys/update.key" --version "$2" --payload-output "$payloads/$1"
}
image keel-b 2.0.0
image keel-a 1.0.0 # last: QT_DISK and QT_INITRD are A's

mkdir -p "$payloads/channels"
cat >"$payloads/channels/stable.json" <<'JSON'
{"channel": "stable",
 "releases": [{"version": "2.0.0", "manifest": "keel-b/manifest.json",
               "signature": "keel-b/manifest.json.sig", "image": "keel-b/root.img"}]}
JSON
qt_payload_disk
payload_disk=$QT_PAYLOAD_DISK

part_bytes() { # partition number -> "offset size" in bytes
  sgdisk -i "$1" "$QT_DISK" | sed -n 's/^First sector: \([0-9]*\).*/\1/p; s/^Partition size: \([0-9]*\) sectors.*/\1/p' |
    tr '\n' ' ' | awk '{ print $1 * 512, $2 * 512 }'
}
slot_sum() { # partition number -> sha256 of its bytes
  read -r offset size < <(part_bytes "$1")
  dd if="$QT_DISK" bs=1M iflag=skip_bytes,count_bytes skip="$offset" count="$size" status=none | sha256sum
}
slot_row() { echo "$1 +ROOT-$1 +[0-9]+ +$2 +$3 +$4 +$5"; }
boot() { qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --disk "$payload_disk" --append "keel.run=\"/bin/sh /install.sh $*\""; }

a_before=$(slot_sum 1)
boot http:keel-b status
qt_expect 'root ROOT-A verified by dm-verity' 60
qt_expect 'INSTALL: running keel-a' 60
qt_expect 'installed 2.0.0 into slot B \(ROOT-B\) of /dev/vda, signed by key [0-9a-f]+; it boots next: priority=2 tries=1 successful=0' 120
qt_expect "$(slot_row A 1 0 yes 'booted')" 30
qt_expect 'INSTALL: PASS' 30
qt_reject 'INSTALL: FAIL'
qt_finish 0
[ "$(slot_sum 1)" = "$a_before" ] || qt_fail "installing into B changed ROOT-A's bytes"

qt_log_restart
boot good install:keel-a status
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=1 successful=0, one try used: 0 left' 60
qt_expect 'root ROOT-B verified by dm-verity' 60
qt_expect 'INSTALL: running keel-b' 60
qt_expect 'slot B marked good' 60
qt_expect 'installed 1.0.0 into slot A \(ROOT-A\) of /dev/vda' 120
qt_expect 'INSTALL: PASS' 30
qt_reject 'INSTALL: FAIL'
qt_finish 0

qt_log_restart
boot good source status
qt_expect 'slot A \(ROOT-A\) of /dev/vda: priority=3 tries=1 successful=0, one try used: 0 left' 60
qt_expect 'root ROOT-A verified by dm-verity' 60
qt_expect 'INSTALL: running keel-a' 60
qt_expect 'slot A marked good' 60
qt_expect 'decision: update to 2.0.0' 60
qt_expect 'installed 2.0.0 into slot B \(ROOT-B\) of /dev/vda, signed by key [0-9a-f]+; it boots next: priority=4 tries=1 successful=0' 120
qt_expect "$(slot_row A 3 0 yes 'booted')" 30
qt_expect 'INSTALL: PASS' 30
qt_reject 'INSTALL: FAIL'
qt_finish 0
echo "PASS: $QT_NAME"
