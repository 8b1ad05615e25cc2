#!/usr/bin/env bash
# update_auto: the update role updates a machine by itself, as CoreOS did.
# A (1.0.0) boots with the role configured on the kernel command line:
# Source= is busybox httpd on the guest's 127.0.0.1 serving a payload disk
# whose channel offers 2.0.0 (B), RebootStrategy=reboot, a health unit.
#   1. Nobody runs a command: the role finds 2.0.0, streams it into slot B
#      inside its cgroup (io.max and cpu.weight as keel-update.service
#      sets them, read in the guest), and reboots the machine.
#   2. B boots (its one try used), passes the health gate and is marked
#      successful by the role, which then finds itself up to date. cgpt reads
#      the flags on the host after each boot.
# Usage: update_auto.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"
export PATH="$PATH:/usr/sbin:/sbin"
command -v openssl >/dev/null || { echo "SKIP: openssl is not installed"; exit 77; }
command -v cgpt >/dev/null || { echo "SKIP: cgpt is not installed (apt-get install cgpt)"; exit 77; }

qt_update_dirs
keys=$QT_KEYS payloads=$QT_PAYLOADS
image() { # HOSTNAME VERSION: mkimage with the payload kept in $payloads/HOSTNAME
  qt_mkimage --busybox --hostname "$1" --sign-key "$keys/update.key" --version "$2" \
    --payload-output "$payloads/$1" \
    --unit "$QT_GUEST/update-health.service" \
    --file "$QT_GUEST/update-health.service:/etc/keel/units/multi-user.target.wants/update-health.service" \
    --file "$QT_GUEST/update_health_check.sh:/update_health_check.sh" \
    --file "$QT_GUEST/update_auto.sh:/update_auto.sh"
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

# flags N: "P T S" as cgpt reads partition N.
flags() { echo "$(cgpt show -i "$1" -P "$QT_DISK") $(cgpt show -i "$1" -T "$QT_DISK") $(cgpt show -i "$1" -S "$QT_DISK")"; }
role='keel.update.Source=http://127.0.0.1:8080/ keel.update.Channel=stable keel.update.CheckInterval=5s'
role+=' keel.update.RebootStrategy=reboot keel.update.health=update-health keel.update.HealthyFor=5s'
boot() { qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --disk "$payload_disk" --append "$role keel.run=\"/bin/sh /update_auto.sh\""; }

a_flags=$(flags 1)
boot
qt_expect 'AUTO: running keel-a' 90
qt_expect 'AUTO: io.max [0-9]+:[0-9]+ rbps=100000000 wbps=100000000' 60
qt_expect 'AUTO: cpu.weight 20' 30
qt_expect 'installed 2.0.0 into slot B \(ROOT-B\) of /dev/vda, signed by key [0-9a-f]+; it boots next: priority=2 tries=1 successful=0' 240
qt_reject 'AUTO: FAIL'
qt_finish 4 # the role rebooted the guest
[ "$(flags 2)" = "2 1 0" ] || qt_fail "B after the role's install: $(flags 2), expected 2 1 0"
[ "$(flags 1)" = "$a_flags" ] || qt_fail "A's flags changed: $(flags 1), were $a_flags"

qt_log_restart
boot
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=1 successful=0, one try used: 0 left' 60
qt_expect 'AUTO: running keel-b' 90
qt_expect 'slot B is healthy: marked successful' 90
qt_expect 'AUTO: slot B is successful' 30
qt_expect 'update: up to date at 2.0.0' 60
qt_reject 'update: installed'
qt_reject 'AUTO: FAIL'
qt_finish 0
[ "$(flags 2)" = "2 0 1" ] || qt_fail "B after its healthy boot: $(flags 2), expected 2 0 1"
echo "PASS: $QT_NAME"
