#!/bin/sh
# Guest side of the livepatch_* tests. /patches holds modules the host built
# for this kernel; klp_keel.ko makes /proc/cmdline read "keel-livepatch-marker".
# $1 says what to do:
#   cycle       load, disable, enable (a reload), unload; /proc/cmdline follows
#   bad         each bad module is refused with its reason, the kernel untainted;
#               a module signed by a trusted key loads
#   install     keel patch install, nothing loaded yet
#   first-unit  (ExecStart of a unit) report whether the patch is active
#   installed   after a reboot: the installed patch is enabled, list says so
#   off         keel.patches=0: the installed patch is not loaded
exec >/dev/console 2>&1
mode=$1
marker=keel-livepatch-marker

fail() {
  echo "LIVEPATCH: FAIL: $*"
  keel patch list
  keel poweroff
  exit 1
}

pass() {
  echo "LIVEPATCH: PASS: $*"
  keel poweroff
  exit 0
}

cmdline() { cat /proc/cmdline; }
patched() { [ "$(cmdline)" = "$marker" ]; }
tainted() { cat /proc/sys/kernel/tainted; }
state() { # state of patch $1 in keel patch list --json
  keel patch list --json | tr '{' '\n' | grep "\"name\":\"$1\"" | sed -n 's/.*"state":"\([a-z ]*\)".*/\1/p'
}

# refused FILE REASON [OPTIONS...]: keel patch load FILE must fail and say REASON.
refused() {
  file=$1 reason=$2
  shift 2
  if out=$(keel patch load "$@" "$file" 2>&1); then
    echo "$out"
    fail "$file was loaded"
  fi
  echo "$out"
  echo "$out" | grep -q "$reason" || fail "$file: the message does not say \"$reason\""
  echo "$out" | grep -q "the kernel was not touched" || fail "$file: no \"the kernel was not touched\""
}

case "$mode" in
cycle)
  original=$(cmdline)
  patched && fail "/proc/cmdline shows the marker before any patch"
  echo "tainted before: $(tainted)"
  keel patch load /patches/klp_keel.ko || fail "keel patch load failed"
  patched || fail "after load /proc/cmdline is \"$(cmdline)\", not \"$marker\""
  keel patch list
  [ "$(state klp_keel)" = enabled ] || fail "list says \"$(state klp_keel)\" after load, not enabled"
  keel patch list --json | grep -q '"objects":\[{"name":"vmlinux","patched":true}\]' ||
    fail "list --json does not show vmlinux patched"
  [ $(($(tainted) & 32768)) -ne 0 ] || fail "the kernel has no K taint after a live patch"
  echo "tainted after load: $(tainted)"

  keel patch disable klp_keel || fail "keel patch disable failed"
  [ "$(cmdline)" = "$original" ] || fail "after disable /proc/cmdline is \"$(cmdline)\""
  [ "$(state klp_keel)" = disabled ] || fail "list says \"$(state klp_keel)\" after disable"
  [ ! -e /sys/kernel/livepatch/klp_keel ] || fail "/sys/kernel/livepatch/klp_keel is still there"
  grep -q '^klp_keel ' /proc/modules || fail "disable removed the module"

  keel patch enable klp_keel || fail "keel patch enable failed"
  patched || fail "after enable /proc/cmdline is \"$(cmdline)\""
  [ "$(state klp_keel)" = enabled ] || fail "list says \"$(state klp_keel)\" after enable"

  keel patch unload klp_keel || fail "keel patch unload failed"
  [ "$(cmdline)" = "$original" ] || fail "after unload /proc/cmdline is \"$(cmdline)\""
  ! grep -q '^klp_keel ' /proc/modules || fail "klp_keel is still in /proc/modules"
  keel patch unload klp_keel 2>&1 | grep -q "no live patch" || fail "a second unload did not say it is gone"
  pass "load, disable, enable, unload"
  ;;
bad)
  before=$(tainted)
  modules=$(wc -l </proc/modules)
  refused /patches/plain.ko "livepatch check failed"
  refused /patches/wrong_vermagic.ko "vermagic check failed"
  refused /patches/truncated.ko "module check failed"
  refused /patches/signed.ko "signature check failed: bad signature" --trusted-keys /keys/other
  refused /patches/klp_keel.ko "signature check failed: no signature" --trusted-keys /keys/publisher
  [ "$(tainted)" = "$before" ] || fail "tainted went from $before to $(tainted)"
  [ "$(wc -l </proc/modules)" = "$modules" ] || fail "/proc/modules changed"
  echo "tainted unchanged: $before"
  # The same module signed by the trusted key loads: signatures really are checked.
  keel patch info --trusted-keys /keys/publisher /patches/signed.ko || fail "info refused signed.ko"
  keel patch load --trusted-keys /keys/publisher /patches/signed.ko || fail "signed.ko was refused"
  patched || fail "after loading signed.ko /proc/cmdline is \"$(cmdline)\""
  keel patch unload klp_keel || fail "unload failed"
  pass "bad modules refused, the kernel untainted; a signed module loads"
  ;;
install)
  keel patch install /patches/klp_keel.ko || fail "keel patch install failed"
  ls -l "/var/lib/keel/patches/$(uname -r)/"
  [ -f "/var/lib/keel/patches/$(uname -r)/klp_keel.ko" ] || fail "nothing under /var/lib/keel/patches/$(uname -r)"
  patched && fail "install loaded the patch"
  keel patch list
  [ "$(state klp_keel)" = "not loaded" ] || fail "list says \"$(state klp_keel)\" for an installed patch"
  pass "installed"
  ;;
first-unit)
  # Runs as the first unit: is the patch active already?
  enabled=$(cat /sys/kernel/livepatch/klp_keel/enabled 2>/dev/null || echo none)
  echo "FIRST_UNIT: enabled=$enabled cmdline=$(cmdline | cut -c1-40)"
  ;;
installed)
  # PID 1 does not wait for the transition; the kernel completes it by itself.
  tries=0
  while [ "$(state klp_keel)" = patching ] && [ $tries -lt 150 ]; do
    sleep 0.2
    tries=$((tries + 1))
  done
  echo "transition complete after about $((tries * 2 / 10)) s of waiting here"
  keel patch list
  [ "$(state klp_keel)" = enabled ] || fail "list says \"$(state klp_keel)\" after the reboot"
  keel patch list | grep -q "klp_keel: loaded at boot" || fail "list does not show the boot result"
  patched || fail "/proc/cmdline is \"$(cmdline)\" after the reboot"
  pass "the installed patch is active after the reboot"
  ;;
off)
  keel patch list
  [ "$(state klp_keel)" = "not loaded" ] || fail "keel.patches=0, but list says \"$(state klp_keel)\""
  patched && fail "keel.patches=0, but /proc/cmdline is patched"
  pass "keel.patches=0 left the installed patch alone"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
