#!/usr/bin/env bash
# livepatch_boot: keel patch install puts a live patch in the installed set on
# STATE; after a reboot (a second boot of the same disk) keel loads it before
# the first unit starts (the unit sees it enabled and /proc/cmdline patched),
# the journal and keel patch list show the result; a third boot with
# keel.patches=0 does not load it.
# Usage: livepatch_boot.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=livepatch_modules.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/livepatch_modules.sh"
qt_init "$@"

kver=$(lp_kernel_version)
lp_require_headers "$kver"
modules=$QT_WORK/livepatch/$QT_NAME
rm -rf -- "$modules"
lp_build_patch "$modules" klp_keel keel-livepatch-marker "$kver"

qt_mkimage --busybox --kernel-version "$kver" \
  --file "$modules/klp_keel.ko:/patches/klp_keel.ko" \
  --file "$QT_GUEST/livepatch.sh:/livepatch.sh" --unit "$QT_GUEST/livepatch_first.service" \
  --file "$QT_GUEST/livepatch_first.service:/etc/keel/units/multi-user.target.wants/livepatch_first.service"

# Boot 1: install (nothing loaded yet).
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /livepatch.sh install"'
qt_expect 'LIVEPATCH: PASS' 90
qt_finish 0
qt_reject 'live patch `klp_keel`: loaded'

# Boot 2: loaded from STATE before the first unit.
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append 'keel.run="/bin/sh /livepatch.sh installed"'
qt_expect 'live patch `klp_keel`: loaded' 60
qt_expect 'FIRST_UNIT: ' 60
qt_expect 'LIVEPATCH: PASS' 90
qt_finish 0
first_unit=$(grep -m1 'FIRST_UNIT: ' < <(tr -d '\r' <"$QT_LOG"))
case "$first_unit" in
  *"enabled=1 cmdline=keel-livepatch-marker"*) ;;
  *) qt_fail "the first unit did not see the patch active: $first_unit" ;;
esac
loaded_line=$(tr -d '\r' <"$QT_LOG" | grep -n -m1 'live patch `klp_keel`: loaded' | cut -d: -f1)
unit_line=$(tr -d '\r' <"$QT_LOG" | grep -n -m1 'FIRST_UNIT: ' | cut -d: -f1)
[ "$loaded_line" -lt "$unit_line" ] ||
  qt_fail "the patch was logged as loaded (line $loaded_line) after the first unit ran (line $unit_line)"
echo "$QT_NAME: $first_unit"

# Boot 3: keel.patches=0.
qt_log_restart
qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" --append keel.patches=0 \
  --append 'keel.run="/bin/sh /livepatch.sh off"'
qt_expect 'not loading the installed set \(keel.patches=0\)' 60
qt_expect 'LIVEPATCH: PASS' 90
qt_finish 0
