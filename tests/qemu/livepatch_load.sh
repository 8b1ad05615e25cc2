#!/usr/bin/env bash
# livepatch_load: a real live patch module, built now against Debian's
# linux-headers for the kernel the guest boots, replaces cmdline_proc_show.
# keel patch load makes /proc/cmdline show the patched text, disable brings
# the original back, enable (a reload: the kernel cannot re-enable a disabled
# patch) patches again, unload removes the module.
# Usage: livepatch_load.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=livepatch_modules.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/livepatch_modules.sh"
qt_init "$@"

kver=$(lp_kernel_version)
lp_require_headers "$kver"
modules=$QT_WORK/livepatch/$QT_NAME
rm -rf -- "$modules"
start=$(qt_now)
lp_build_patch "$modules" klp_keel keel-livepatch-marker "$kver"
echo "$QT_NAME: built klp_keel.ko for $kver in $((($(qt_now) - start))) ms"

qt_boot --busybox --file "$modules/klp_keel.ko:/patches/klp_keel.ko" \
  --file "$QT_GUEST/livepatch.sh:/livepatch.sh" --append 'keel.run="/bin/sh /livepatch.sh cycle"'
qt_expect "$QT_READY_RE" 60
qt_expect 'LIVEPATCH: PASS' 120
qt_finish 0
