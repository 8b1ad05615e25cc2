# shellcheck shell=bash
# tests/qemu/services_lib.sh: shared by the services_* QEMU tests (sourced
# after lib.sh). The guest side lives in guest/services/.

# svc_boot CHECK_SCRIPT UNIT...: boot with UNITs in /etc/keel/units, enabled
# in multi-user.target (as `keel enable` links them), the guest helpers in
# /svc and CHECK_SCRIPT run by keel.run.
svc_boot() {
  local check=$1 dir=$QT_WORK/units/$QT_NAME unit
  shift
  rm -rf -- "$dir"
  mkdir -p -- "$dir/multi-user.target.wants"
  for unit in "$@"; do
    cp -- "$QT_GUEST/services/$unit" "$dir/$unit"
    ln -s -- "../$unit" "$dir/multi-user.target.wants/$unit"
  done
  qt_boot --busybox --file "$dir:/etc/keel/units" --file "$QT_GUEST/services:/svc" \
    --append "keel.run=\"/bin/sh /svc/$check\""
}
