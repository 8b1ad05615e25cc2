#!/usr/bin/env bash
# update_health: the update role's health gate on a real disk. ROOT-B is a
# copy of ROOT-A, activated from the host (priority above A, one try, not
# successful). keel-update.service runs because the kernel command line
# names a health unit (keel.update.health=update-health):
#   a. the health unit stays active for HealthyFor: B is marked successful
#      by the role (cgpt reads it on the host afterwards);
#   b. B on trial again, the health unit fails on B: the role reboots the
#      machine, and the next boot is ROOT-A by itself.
# Usage: update_health.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"

export PATH="$PATH:/usr/sbin:/sbin"
command -v cgpt >/dev/null || { echo "SKIP: cgpt is not installed (apt-get install cgpt)"; exit 77; }
qt_mkimage --busybox --unit "$QT_GUEST/update-health.service" \
  --file "$QT_GUEST/update-health.service:/etc/keel/units/multi-user.target.wants/update-health.service" \
  --file "$QT_GUEST/update_health_check.sh:/update_health_check.sh" \
  --file "$QT_GUEST/update_watch.sh:/update_watch.sh"

# ROOT-B := ROOT-A (same size, made so by tools/mkimage).
qt_copy_root_a_to_b
# flags N: "P T S" as cgpt reads partition N.
flags() { echo "$(cgpt show -i "$1" -P "$QT_DISK") $(cgpt show -i "$1" -T "$QT_DISK") $(cgpt show -i "$1" -S "$QT_DISK")"; }

role='keel.update.health=update-health keel.update.HealthyFor=5s keel.update.HealthTimeout=3min'
watch='keel.run="/bin/sh /update_watch.sh"'

# a. Healthy: the role marks B successful.
"$QT_KEEL" update activate B --disk "$QT_DISK" >/dev/null || qt_fail "activate B"
[ "$(flags 2)" = "2 1 0" ] || qt_fail "B after activate: $(flags 2)"
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append "$role $watch"
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=1 successful=0, one try used: 0 left' 60
qt_expect 'HEALTH: booted slot B' 90
qt_expect 'slot B is healthy: marked successful' 90
qt_expect 'WATCH: slot B is successful' 30
qt_reject 'is unhealthy'
qt_finish 0
[ "$(flags 2)" = "2 0 1" ] || qt_fail "B as cgpt reads it after the healthy boot: $(flags 2), expected 2 0 1"
[ "$(flags 1)" = "1 0 1" ] || qt_fail "A as cgpt reads it after the healthy boot: $(flags 1)"

# b. Unhealthy: B on trial again (A good, below it), its health unit fails.
cgpt add -i 2 -P 2 -T 1 -S 0 "$QT_DISK" || qt_fail "cgpt could not put B on trial"
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append "$role $watch update_test.unhealthy=B"
qt_expect 'slot B \(ROOT-B\) of /dev/vda: priority=2 tries=1 successful=0, one try used: 0 left' 60
qt_expect 'HEALTH: failing on slot B' 90
qt_expect 'slot B is unhealthy: update-health.service failed.*rebooting \(slot A \(ROOT-A\) boots next\)' 60
qt_finish 4 # the guest rebooted
[ "$(flags 2)" = "2 0 0" ] || qt_fail "B after the unhealthy boot: $(flags 2), expected 2 0 0"

# The machine's next boot: A, by itself (B has no tries left).
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append "$role $watch update_test.unhealthy=B"
qt_expect 'slot A \(ROOT-A\) of /dev/vda: priority=1 tries=0 successful=1$' 60
qt_expect 'HEALTH: booted slot A' 90
qt_expect 'WATCH: slot A is successful' 60
qt_reject 'slot B \(ROOT-B\) of'
qt_finish 0
echo "PASS: $QT_NAME"
