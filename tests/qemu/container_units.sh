#!/usr/bin/env bash
# container_units: container units on a keel disk. The root holds a busybox
# image as a rootfs tar (tools/mkbusybox-image, made here without network)
# and units (guest/container_units/units): a oneshot that imports the image
# into the store on STATE, web.container (busybox httpd, Notify=healthy with
# a health check, Restart=on-failure, on keel's bridge with a published
# port), after-web.service (Requires=/After= web.service) and a unit written
# for Docker (`/usr/bin/docker run`, Requires=docker.service). The guest
# (guest/container_units.sh) checks HTTP, logs, ps, the health gate, a
# restart, the Docker-style unit and `keel stop`, one line per check.
#
# A check without a PASS line fails the test.
# CU_NETWORK=host runs web on the host's network instead of the bridge.
# Usage: container_units.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
qt_init "$@"
# The guest prints a FAIL line per failed check and goes on: wait for all.
# shellcheck disable=SC2034 # read by lib.sh's qt_expect
QT_FATAL_RE='Kernel panic|Attempted to kill init'

network=${CU_NETWORK:-bridge}
src=$QT_GUEST/container_units
stage=$QT_WORK/stage/$QT_NAME
rm -rf -- "$stage"
mkdir -p -- "$stage/units/multi-user.target.wants" "$stage/units/web.container.d"

"$QT_SRC/tools/mkbusybox-image" --output "$stage/busybox.tar" \
  --file "$src/image/serve.sh:/serve.sh" --file "$src/image/health.sh:/health.sh" --file "$src/image/www:/www" ||
  qt_fail "tools/mkbusybox-image failed"

cp -- "$src"/units/* "$stage/units/"
for unit in web.service after-web.service hello-docker.service; do
  target=$unit
  [ "$unit" != web.service ] || target=web.container
  ln -s -- "../$target" "$stage/units/multi-user.target.wants/$unit"
done
case "$network" in
  bridge) printf '[Container]\nPublishPort=127.0.0.1:8080:8080\n' ;;
  host) printf '[Container]\nNetwork=host\n' ;;
  *) qt_fail "CU_NETWORK=$network: expected bridge or host" ;;
esac >"$stage/units/web.container.d/network.conf"
echo "$network" >"$stage/network"
echo "$QT_NAME: web on the $network network"

# --container-network: the modules of keel's bridge (published ports are
# DNAT, outbound traffic masqueraded).
qt_mkimage --busybox --container-network --state-size 128 \
  --file "$stage/units:/etc/keel/units" \
  --file "$stage/busybox.tar:/usr/share/keel-images/busybox.tar" \
  --file "$QT_GUEST/container_units.sh:/cu/check.sh" \
  --file "$QT_GUEST/check_lib.sh:/lib/keel-test/check_lib.sh" \
  --file "$src/after_web.sh:/cu/after_web.sh" --file "$stage/network:/cu/network"
KEEL_QEMU_TIMEOUT=${KEEL_QEMU_TIMEOUT:-240} qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK" \
  --memory 768 --append 'keel.run="/bin/sh /cu/check.sh"'
qt_expect "$QT_READY_RE" 90
qt_expect 'CONTAINER_UNITS: DONE' 200
# qt_finish's checks without its PASS line: the verdict comes below.
qt_wait_exit
[ "$QT_STATUS" -eq 0 ] || qt_fail "keel-qemu exited $QT_STATUS, expected 0: $(qt_verdict)"
qt_has 'reboot: Power down' || qt_fail "missing marker /reboot: Power down/"
qt_reject 'Kernel panic'
qt_reject 'Attempted to kill init'
echo "$QT_NAME: $(qt_verdict)"

checks=(IMPORT UNIT DOCKER_SERVICE LOOPBACK BRIDGE RUN_PROBE HTTP LOGS PS CGROUP STATS HEALTH_GATE RESTART DOCKER_UNIT STOP)
console=$(tr -d '\r' <"$QT_LOG")
failures=()
for c in "${checks[@]}"; do
  line=$(grep -E "^CU_$c: (PASS|FAIL)" <<<"$console" | tail -n 1 || true)
  case "$line" in
    "CU_$c: PASS"*) ;;
    "CU_$c: FAIL"*) failures+=("${line#CU_}") ;;
    *) failures+=("$c: no verdict on the console") ;;
  esac
done
[ ${#failures[@]} -eq 0 ] || qt_fail "$(printf '%s; ' "${failures[@]}")"
echo "PASS: $QT_NAME: every check passed"
