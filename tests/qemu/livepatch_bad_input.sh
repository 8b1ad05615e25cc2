#!/usr/bin/env bash
# livepatch_bad_input: keel patch load refuses, without touching the kernel
# (/proc/sys/kernel/tainted and /proc/modules unchanged), a plain module, a
# live patch whose vermagic names another kernel, a truncated one, one signed
# by an untrusted key and an unsigned one while signing is configured; each
# message names the check that failed. The same module signed by the trusted
# key then loads.
# Usage: livepatch_bad_input.sh KEEL_BINARY SOURCE_DIR [WORK_DIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=livepatch_modules.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/livepatch_modules.sh"
qt_init "$@"

kver=$(lp_kernel_version)
lp_require_headers "$kver"
command -v openssl >/dev/null 2>&1 ||
  { echo "SKIP: openssl (for test keys) not installed (tools/setup.sh installs it)"; exit 77; }
dir=$QT_WORK/livepatch/$QT_NAME
rm -rf -- "$dir"
mkdir -p -- "$dir/keys/publisher" "$dir/keys/other"
lp_build_patch "$dir" klp_keel keel-livepatch-marker "$kver"

# A plain module: a small in-tree one, as Debian ships it.
plain=$(find "/lib/modules/$kver/kernel/lib" -name 'crc16.ko' | head -n 1)
[ -n "$plain" ] || qt_fail "no crc16.ko under /lib/modules/$kver/kernel/lib"
cp -- "$plain" "$dir/plain.ko"
lp_wrong_vermagic "$dir/klp_keel.ko" "$dir/wrong_vermagic.ko" "$kver"
head -c 4096 "$dir/klp_keel.ko" >"$dir/truncated.ko"

# Keys: the publisher's (trusted in one directory) and another (trusted in the
# other); signed.ko is signed by the publisher with keel patch sign.
for who in publisher other; do
  openssl ecparam -genkey -name prime256v1 -noout -out "$dir/$who.key" 2>/dev/null
  openssl ec -in "$dir/$who.key" -pubout -out "$dir/keys/$who/$who.pem" 2>/dev/null
done
cp -- "$dir/klp_keel.ko" "$dir/signed.ko"
"$QT_KEEL" patch sign --key "$dir/publisher.key" "$dir/signed.ko" ||
  qt_fail "keel patch sign failed"
# Interoperability: what keel signs, openssl verifies.
openssl dgst -sha256 -verify "$dir/keys/publisher/publisher.pem" \
  -signature "$dir/signed.ko.sig" "$dir/signed.ko" >/dev/null ||
  qt_fail "openssl does not verify keel's signature"

files=()
for f in klp_keel plain wrong_vermagic truncated signed; do
  files+=(--file "$dir/$f.ko:/patches/$f.ko")
done
qt_boot --busybox "${files[@]}" --file "$dir/signed.ko.sig:/patches/signed.ko.sig" \
  --file "$dir/keys:/keys" --file "$QT_GUEST/livepatch.sh:/livepatch.sh" \
  --append 'keel.run="/bin/sh /livepatch.sh bad"'
qt_expect "$QT_READY_RE" 60
qt_expect 'LIVEPATCH: PASS' 120
qt_finish 0
