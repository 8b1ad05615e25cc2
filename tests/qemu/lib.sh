# shellcheck shell=bash
# tests/qemu/lib.sh: harness for the QEMU boot tests, built on tools/keel-qemu.
#
# A test is a bash script run as
#     bash tests/qemu/NAME.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# (CTest passes all three, see CMakeLists.txt). It sources this file, calls
# qt_init "$@", boots with qt_boot, checks the console with qt_expect /
# qt_reject, and ends with qt_finish. The console of the run is kept in
# WORK_DIR/logs/NAME.console.log and the runner's verdict in
# WORK_DIR/logs/NAME.runner.log. Every failure prints the marker that was
# missing, the whole console log and the runner's verdict, then exits 1.
#
# Environment:
#   KEEL_QEMU_TIMEOUT   seconds before keel-qemu kills the guest (default 90)
#   KEEL_QEMU_APPEND    extra kernel command line for every test (e.g. keel.log=debug)
#   KEEL_QEMU_STANDIN   boot tests/qemu/standin/init.sh (a busybox sh imitation
#                       of keel) instead of keel, to check the harness itself;
#                       pass tests/qemu/standin/keel as KEEL_BINARY
# A test exits 77 (CTest SKIP_RETURN_CODE) when QEMU or a kernel is missing.

set -euo pipefail
# With pipefail, `cmd | grep -q RE` is false when grep finds RE and exits
# before cmd's last write: that write fails (SIGPIPE), and the pipeline
# with it. bash's own echo and printf write line by line, so this happens
# on a loaded machine. Tests here write `grep -q RE < <(cmd)` or
# `grep -q RE <<<"$var"` instead, which only grep's status decides.

# Lines that end a test at once when they show up on the console ("" = none).
QT_FATAL_RE='Kernel panic|Attempted to kill init|[A-Z_]+: FAIL'
# The marker keel prints when boot is complete.
# shellcheck disable=SC2034 # used by the tests that source this file
QT_READY_RE='keel: ready in [0-9.]+ s'

qt_init() {
  if [ $# -lt 2 ]; then
    echo "usage: $0 KEEL_BINARY SOURCE_DIR [WORK_DIR]" >&2
    exit 2
  fi
  QT_NAME=$(basename -- "$0" .sh)
  QT_KEEL=$1
  QT_SRC=$(cd -- "$2" && pwd)
  QT_WORK=${3:-$PWD}
  QT_RUNNER=$QT_SRC/tools/keel-qemu
  # shellcheck disable=SC2034 # used by the tests
  QT_GUEST=$QT_SRC/tests/qemu/guest
  QT_LOGDIR=$QT_WORK/logs
  QT_LOG=$QT_LOGDIR/$QT_NAME.console.log
  QT_RUNNER_LOG=$QT_LOGDIR/$QT_NAME.runner.log
  QT_PID=""
  QT_STATUS=""
  mkdir -p -- "$QT_LOGDIR"
  : >"$QT_LOG"
  : >"$QT_RUNNER_LOG"

  if ! command -v "${QEMU:-qemu-system-x86_64}" >/dev/null 2>&1; then
    echo "SKIP: ${QEMU:-qemu-system-x86_64} not installed (tools/setup.sh installs it)"
    exit 77
  fi
  if ! compgen -G '/boot/vmlinuz-*' >/dev/null; then
    echo "SKIP: no /boot/vmlinuz-* (install linux-image-amd64)"
    exit 77
  fi
  [ -x "$QT_KEEL" ] || qt_fail "keel binary $QT_KEEL does not exist or is not executable"
  trap qt_cleanup EXIT
}

# shellcheck disable=SC2317 # EXIT trap
qt_cleanup() {
  if [ -n "${QT_PID:-}" ] && kill -0 "$QT_PID" 2>/dev/null; then
    kill -TERM "$QT_PID" 2>/dev/null || true # keel-qemu kills QEMU on TERM
    wait "$QT_PID" 2>/dev/null || true
  fi
}

qt_now() {
  local t=${EPOCHREALTIME//[.,]/}
  echo "$((10#$t / 1000))"
}

# qt_boot [keel-qemu options...]: start the guest in the background. With
# --initrd (an image from qt_mkimage) keel is in that image: no --keel.
qt_boot() {
  # One vCPU: a TCG guest runs at the speed of one host core either way
  # (measured: the same boot times with two), and CTest runs two guests
  # at once on a two-core machine. A test's own --smp comes later and wins.
  local args=(--timeout "${KEEL_QEMU_TIMEOUT:-90}" --log "$QT_LOG" --smp 1) a ready=0
  for a in "$@"; do
    [ "$a" != --initrd ] || ready=1
  done
  [ "$ready" -eq 1 ] || args+=(--keel "$QT_KEEL")
  if [ -n "${KEEL_QEMU_STANDIN:-}" ]; then
    args+=(--init-script "$QT_SRC/tests/qemu/standin/init.sh" --busybox)
  fi
  if [ -n "${KEEL_QEMU_APPEND:-}" ]; then
    args+=(--append "$KEEL_QEMU_APPEND")
  fi
  echo "$QT_NAME: booting: keel-qemu ${args[*]} $*"
  QT_BOOT_ARGS=("$@")
  QT_BOOT_MS=$(qt_now)
  "$QT_RUNNER" "${args[@]}" "$@" >/dev/null 2>"$QT_RUNNER_LOG" &
  QT_PID=$!
}

# qt_mkimage [tools/mkimage options...]: build a disk image and its initramfs
# with QT_KEEL into WORK_DIR/images/NAME/ (QT_DISK, QT_INITRD). Boot them with
# qt_boot --initrd "$QT_INITRD" --disk "$QT_DISK". Skips (77) without
# erofs-utils, gdisk or e2fsprogs, and under KEEL_QEMU_STANDIN (the stand-in
# does not boot disks).
qt_mkimage() {
  if [ -n "${KEEL_QEMU_STANDIN:-}" ]; then
    echo "SKIP: $QT_NAME boots a disk image, which the stand-in init does not"
    exit 77
  fi
  local tool
  for tool in mkfs.erofs sgdisk mkfs.ext4; do
    if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1; then
      echo "SKIP: $tool not installed (tools/setup.sh installs it)"
      exit 77
    fi
  done
  local dir=$QT_WORK/images/$QT_NAME
  rm -rf -- "$dir"
  "$QT_SRC/tools/mkimage" --keel "$QT_KEEL" --output "$dir" "$@" >>"$QT_RUNNER_LOG" 2>&1 ||
    qt_fail "tools/mkimage failed (see $QT_RUNNER_LOG)"
  # shellcheck disable=SC2034 # used by the tests
  QT_DISK=$dir/disk.img
  # shellcheck disable=SC2034
  QT_INITRD=$dir/initramfs.img
}

# qt_update_dirs: empty QT_KEYS (with QT_KEYS/update.key, an EC P-256 key
# for tools/mkimage --sign-key) and QT_PAYLOADS (where --payload-output
# payloads and channels go) under WORK_DIR/images.
qt_update_dirs() {
  QT_KEYS=$QT_WORK/images/$QT_NAME-keys
  QT_PAYLOADS=$QT_WORK/images/$QT_NAME-payloads
  rm -rf -- "$QT_KEYS" "$QT_PAYLOADS"
  mkdir -p "$QT_KEYS" "$QT_PAYLOADS"
  openssl ecparam -name prime256v1 -genkey -noout -out "$QT_KEYS/update.key" 2>/dev/null ||
    qt_fail "openssl could not make a key"
}

# qt_payload_disk: QT_PAYLOAD_DISK, an ext4 disk image holding QT_PAYLOADS
# (room for the files at their full size, and ext4's own: journal, tables),
# for a guest to mount as its second disk.
qt_payload_disk() {
  QT_PAYLOAD_DISK=$QT_WORK/images/$QT_NAME-payloads.img
  rm -f -- "$QT_PAYLOAD_DISK"
  truncate -s "$(($(du -sm --apparent-size "$QT_PAYLOADS" | cut -f1) * 5 / 4 + 32))M" "$QT_PAYLOAD_DISK"
  PATH="$PATH:/usr/sbin:/sbin" mkfs.ext4 -q -F -d "$QT_PAYLOADS" "$QT_PAYLOAD_DISK" >/dev/null ||
    qt_fail "mkfs.ext4 -d of the payloads failed"
}

# qt_slot_status: `keel update status` of QT_DISK, read on the host; a
# failure of keel fails the test. Check it with `grep -q RE < <(qt_slot_status)`.
qt_slot_status() {
  local out
  out=$("$QT_KEEL" update status --disk "$QT_DISK") || qt_fail "keel update status on the host failed"
  printf '%s\n' "$out"
}

# qt_copy_root_a_to_b: ROOT-B of QT_DISK := ROOT-A, byte for byte (tools/mkimage
# makes them the same size): an A/B disk whose other slot boots the same root.
qt_copy_root_a_to_b() {
  local PATH="$PATH:/usr/sbin:/sbin" a b n
  part() { sgdisk -i "$1" "$QT_DISK" | sed -n "s/^$2: \([0-9]*\).*/\1/p"; }
  a=$(part 1 'First sector') b=$(part 2 'First sector') n=$(part 1 'Partition size')
  [ -n "$a" ] && [ -n "$b" ] && [ -n "$n" ] && [ "$n" = "$(part 2 'Partition size')" ] ||
    qt_fail "ROOT-A and ROOT-B differ: $(sgdisk -p "$QT_DISK")"
  dd if="$QT_DISK" of="$QT_DISK" bs=1M iflag=skip_bytes,count_bytes oflag=seek_bytes conv=notrunc status=none \
    skip=$((a * 512)) seek=$((b * 512)) count=$((n * 512)) || qt_fail "copying ROOT-A to ROOT-B failed"
}

# qt_log_restart: keep the console of the boot that just ended as
# NAME.console.N.log and start an empty one for the next boot on the same disk.
qt_log_restart() {
  QT_BOOTS=$((${QT_BOOTS:-1} + 1))
  cp -- "$QT_LOG" "$QT_LOGDIR/$QT_NAME.console.$((QT_BOOTS - 1)).log"
  : >"$QT_LOG"
}

# qt_value KEY: the value of the last "KEY=value" line on the console.
qt_value() {
  tr -d '\r' <"$QT_LOG" | sed -n "s/^.*$1=\([^ ]*\).*$/\1/p" | tail -n 1
}

# qt_fail MESSAGE: report, show the console and the verdict, exit 1.
qt_fail() {
  {
    echo "FAIL: $QT_NAME: $*"
    if [ -s "${QT_LOG:-/dev/null}" ]; then
      echo "----- console log ($QT_LOG) -----"
      tr -d '\r' <"$QT_LOG"
      echo "----- end of console log -----"
    fi
    if [ -s "${QT_RUNNER_LOG:-/dev/null}" ]; then
      echo "----- keel-qemu ($QT_RUNNER_LOG) -----"
      cat "$QT_RUNNER_LOG"
    fi
    echo "FAIL: $QT_NAME: $*"
  } >&2
  exit 1
}

qt_has() { grep -Eq -- "$1" < <(tr -d '\r' <"$QT_LOG"); }

# qt_boot_again_if_stuck_before_init: true (after starting the same boot
# again) when the guest's kernel never started /init, once per test. Under
# TCG on a loaded machine the kernel itself has been seen to hang in its
# own start-up (a soft lockup in cryptomgr_test), before keel ran at all;
# nothing on the disk image has been touched then.
qt_boot_again_if_stuck_before_init() {
  ! qt_has 'Run /init as init process' && [ -z "${QT_BOOTED_AGAIN:-}" ] || return 1
  QT_BOOTED_AGAIN=1
  echo "$QT_NAME: the kernel never started /init (stuck in its own start-up); booting once more"
  cp -- "$QT_LOG" "$QT_LOGDIR/$QT_NAME.stuck.console.log"
  qt_cleanup
  : >"$QT_LOG"
  qt_boot "${QT_BOOT_ARGS[@]}"
}

# qt_expect REGEX [SECONDS]: wait until the console shows REGEX (grep -E).
# Fails early when the guest ends or a fatal line (QT_FATAL_RE) appears.
qt_expect() {
  local re=$1 secs=${2:-60} deadline
  deadline=$(($(qt_now) + secs * 1000))
  while :; do
    qt_has "$re" && {
      echo "$QT_NAME: seen /$re/ after $(qt_elapsed) s"
      return 0
    }
    if [ -n "$QT_FATAL_RE" ] && qt_has "$QT_FATAL_RE"; then
      if qt_boot_again_if_stuck_before_init; then
        deadline=$(($(qt_now) + secs * 1000))
        continue
      fi
      sleep 1 # let the rest of the panic or the guest's report arrive
      qt_fail "missing marker /$re/: the console shows a fatal line: $(tr -d '\r' <"$QT_LOG" | grep -Em1 -- "$QT_FATAL_RE")"
    fi
    if ! kill -0 "$QT_PID" 2>/dev/null; then
      qt_has "$re" && return 0
      if qt_boot_again_if_stuck_before_init; then
        deadline=$(($(qt_now) + secs * 1000))
        continue
      fi
      qt_fail "missing marker /$re/: the guest ended without printing it ($(qt_verdict))"
    fi
    if [ "$(qt_now)" -ge "$deadline" ]; then
      if qt_boot_again_if_stuck_before_init; then
        deadline=$(($(qt_now) + secs * 1000))
        continue
      fi
      qt_fail "missing marker /$re/: not seen within $secs s"
    fi
    sleep 0.2
  done
}

# qt_reject REGEX: fail if the console shows REGEX.
qt_reject() {
  if qt_has "$1"; then
    qt_fail "unexpected line matching /$1/: $(tr -d '\r' <"$QT_LOG" | grep -Em1 -- "$1")"
  fi
}

qt_elapsed() {
  local ms=$(($(qt_now) - QT_BOOT_MS))
  printf '%d.%d\n' "$((ms / 1000))" "$((ms / 100 % 10))"
}

qt_verdict() { tail -n 1 "$QT_RUNNER_LOG" 2>/dev/null || true; }

# qt_wait_exit: wait for keel-qemu; its status goes to QT_STATUS.
qt_wait_exit() {
  QT_STATUS=0
  wait "$QT_PID" || QT_STATUS=$?
  QT_PID=""
}

# qt_finish [EXPECTED_STATUS]: wait for the guest to end, check keel-qemu's
# status (default 0, a clean power-off) and that nothing fatal was printed.
qt_finish() {
  local want=${1:-0}
  qt_wait_exit
  [ "$QT_STATUS" -eq "$want" ] ||
    qt_fail "keel-qemu exited $QT_STATUS, expected $want: $(qt_verdict)"
  if [ "$want" -eq 0 ]; then
    qt_has 'reboot: Power down' || qt_fail "missing marker /reboot: Power down/"
    qt_reject 'Kernel panic'
    qt_reject 'Attempted to kill init'
  fi
  echo "$QT_NAME: $(qt_verdict)"
  echo "PASS: $QT_NAME"
}

# qt_power_cut: the guest's power cut: SIGKILL of QEMU itself (no shutdown,
# nothing the guest has not written out reaches the disk image), then the
# end of keel-qemu waited for.
qt_power_cut() {
  local child qemu=""
  for child in $(pgrep -P "$QT_PID" 2>/dev/null || true); do
    case "$(cat "/proc/$child/comm" 2>/dev/null)" in qemu*) qemu=$child ;; esac
  done
  [ -n "$qemu" ] || qt_fail "no QEMU to cut the power of (the guest ended: $(qt_verdict))"
  kill -KILL "$qemu"
  qt_wait_exit
  echo "$QT_NAME: power cut (SIGKILL of QEMU $qemu) after $(qt_elapsed) s"
}
