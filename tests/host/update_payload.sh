#!/usr/bin/env bash
# Update payloads end to end on files: keys made by openssl (EC P-256; an
# Ed25519 one in the ed25519 case), a payload made by `keel update pack`,
# its dm-verity tree checked by Debian's veritysetup, installs by `keel
# update install --disk` into disk images partitioned by
# ChromeOS's cgpt, whose flags cgpt reads back. After every refused install
# the running slot A is byte for byte as it was and B cannot boot. No root,
# no devices: everything is a file in the test's temporary directory.
# usage: update_payload.sh KEEL_BINARY CASE
#   cases: install bad_signature bad_chunk truncated wrong_size resume veritysetup ed25519
set -euo pipefail

keel=$(realpath "$1")
case_name=$2
work=$(mktemp -d /tmp/keel-update-payload.XXXXXX)
trap 'rm -rf -- "$work"' EXIT
export PATH="$PATH:/usr/sbin:/sbin"

fail() { echo "FAIL: $case_name: $*" >&2; exit 1; }
pass() { echo "PASS: $case_name"; }

for tool in cgpt openssl python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (apt-get install cgpt openssl python3)"; exit 77; }
done

cd "$work"
mkdir trusted
openssl ecparam -name prime256v1 -genkey -noout -out publisher.key 2>/dev/null
openssl ec -in publisher.key -pubout -out trusted/publisher.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out stranger.key 2>/dev/null

# make_root MIB: a root image of random bytes (a filesystem is not needed:
# keel checks bytes, the kernel mounts them).
make_root() { head -c "$(($1 * 1024 * 1024 + 12345))" /dev/urandom >root.fs; }
# pack [CHUNK]: payload/ from root.fs, version 2.0.1.
pack() {
  "$keel" update pack --image root.fs --version 2.0.1 --channel stable --key publisher.key \
    --output payload ${1:+--chunk-size "$1"} >pack.out || fail "pack: $(cat pack.out)"
}
manifest_field() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

img=disk.img
slot_mib=8
# make_disk SLOT_MIB: ROOT-A (priority 2, successful: the running root, full
# of random bytes), ROOT-B (priority 1, successful: an older root), STATE.
make_disk() {
  slot_mib=$1
  local sectors=$((slot_mib * 2048))
  rm -f "$img"
  truncate -s $(((2 * slot_mib + 4) * 1024 * 1024)) "$img"
  cgpt create "$img" 2>/dev/null
  cgpt add -b 2048 -s $sectors -t rootfs -l ROOT-A -P 2 -T 0 -S 1 "$img"
  cgpt add -b $((2048 + sectors)) -s $sectors -t rootfs -l ROOT-B -P 1 -T 0 -S 1 "$img"
  cgpt add -b $((2048 + 2 * sectors)) -s 2048 -t data -l STATE "$img"
  head -c $((slot_mib * 1024 * 1024)) /dev/urandom | dd of="$img" bs=1M seek=1 conv=notrunc status=none
  a_sum=$(slot_sum 1)
}
# slot_sum N: SHA-256 of partition N's bytes.
slot_sum() {
  dd if="$img" bs=512 skip="$(cgpt show -i "$1" -b "$img")" count="$(cgpt show -i "$1" -s "$img")" status=none | sha256sum | cut -d' ' -f1
}
flags() { echo "$(cgpt show -i "$1" -P "$img") $(cgpt show -i "$1" -T "$img") $(cgpt show -i "$1" -S "$img")"; }
install() { "$keel" update install --disk "$img" --trusted trusted --progress-file progress "$@"; }

# refused OUTPUT WHAT: the install failed saying WHAT, A is untouched, B cannot boot.
refused() {
  grep -q -- "$2" <<<"$1" || fail "refused without saying \"$2\": $1"
  [ "$(slot_sum 1)" = "$a_sum" ] || fail "slot A's bytes changed"
  [ "$(flags 1)" = "2 0 1" ] || fail "slot A's flags are $(flags 1)"
  [ "$(flags 2 | cut -d' ' -f1)" = 0 ] || fail "slot B can still boot: $(flags 2)"
}

case $case_name in
install)
  make_root 3
  pack
  out=$("$keel" update verify --trusted trusted payload) || fail "verify: $out"
  # keel's signature is openssl's format, both ways: openssl checks keel's,
  # and the install below checks one openssl made.
  openssl dgst -sha256 -verify trusted/publisher.pem -signature payload/manifest.json.sig \
    payload/manifest.json >/dev/null || fail "openssl does not verify keel's signature"
  openssl dgst -sha256 -sign publisher.key -out payload/manifest.json.sig payload/manifest.json
  make_disk 8
  out=$(install payload) || fail "install: $out"
  grep -q "installed 2.0.1 into slot B (ROOT-B)" <<<"$out" || fail "install said: $out"
  [ "$(flags 2)" = "3 1 0" ] || fail "cgpt reads B as $(flags 2), not priority 3 tries 1 successful 0"
  [ "$(flags 1)" = "2 0 1" ] || fail "cgpt reads A as $(flags 1)"
  [ "$(slot_sum 1)" = "$a_sum" ] || fail "slot A's bytes changed"
  size=$(stat -c %s payload/root.img)
  dd if="$img" bs=512 skip="$(cgpt show -i 2 -b "$img")" count="$(cgpt show -i 2 -s "$img")" of=b.part status=none
  cmp -n "$size" b.part payload/root.img || fail "slot B does not hold root.img"
  # The footer holds the signed manifest, byte for byte.
  footer_at=$(($(stat -c %s b.part) - 1048576))
  footer=$(dd if=b.part bs=1 skip=$footer_at count=8 status=none)
  [ "$footer" = KEELSLOT ] || fail "no footer at B's end: $footer"
  dd if=b.part bs=1 skip=$((footer_at + 64)) count="$(stat -c %s payload/manifest.json)" status=none \
    | cmp - payload/manifest.json || fail "the footer's manifest is not manifest.json"
  pass ;;

bad_signature)
  make_root 1
  pack
  make_disk 4
  before=$(sha256sum <"$img")
  "$keel" update sign --key stranger.key payload/manifest.json >/dev/null
  out=$(install payload 2>&1) && fail "installed a payload signed by an untrusted key"
  grep -q "bad signature" <<<"$out" || fail "refusal said: $out"
  [ "$(sha256sum <"$img")" = "$before" ] || fail "the disk changed"
  # No trusted key: refused too.
  mkdir empty
  out=$("$keel" update install --disk "$img" --trusted empty payload 2>&1) && fail "installed with no trusted key"
  grep -q "must be signed" <<<"$out" || fail "refusal said: $out"
  [ "$(sha256sum <"$img")" = "$before" ] || fail "the disk changed"
  pass ;;

bad_chunk)
  make_root 3
  pack 262144
  make_disk 8
  size=$(stat -c %s payload/root.img)
  chunks=$(manifest_field payload/manifest.json 'len(d["image"]["chunks"])')
  for where in first middle last; do
    cp -r payload bad
    case $where in
      first) at=100; chunk=1 ;;
      middle) at=$((size / 2)); chunk=$((at / 262144 + 1)) ;;
      last) at=$((size - 1)); chunk=$chunks ;;
    esac
    printf '\x5a' | dd of=bad/root.img bs=1 seek=$at conv=notrunc status=none
    cmp -s bad/root.img payload/root.img && printf '\xa5' | dd of=bad/root.img bs=1 seek=$at conv=notrunc status=none
    out=$(install bad 2>&1) && fail "installed with a bad $where chunk"
    refused "$out" "chunk $chunk of $chunks"
    rm -rf bad progress
  done
  pass ;;

truncated)
  make_root 3
  pack
  make_disk 8
  truncate -s 2000000 payload/root.img
  out=$(install payload 2>&1) && fail "installed a truncated image"
  refused "$out" "truncated: the image ends at byte 2000000"
  pass ;;

wrong_size)
  make_root 2
  pack
  make_disk 8
  cp -r payload long
  echo extra >>long/root.img
  out=$(install long 2>&1) && fail "installed an image longer than its manifest"
  refused "$out" "wrong size"
  # A manifest whose size does not match its chunk list, signed by a trusted
  # key, is refused by the parser before anything is written.
  before=$(sha256sum <"$img")
  python3 -c "
import json; d=json.load(open('payload/manifest.json')); d['image']['size'] += 5000000
open('payload/manifest.json','w').write(json.dumps(d, separators=(',',':')))"
  "$keel" update sign --key publisher.key payload/manifest.json >/dev/null
  out=$(install payload 2>&1) && fail "installed a manifest with a wrong size"
  grep -q "image.chunks" <<<"$out" || fail "refusal said: $out"
  [ "$(sha256sum <"$img")" = "$before" ] || fail "the disk changed"
  pass ;;

resume)
  # Progress is saved every 32 MiB, and when the stream fails, at the last
  # chunk checked (the chunks before are still written): cut the stream
  # after 40, and the install run again resumes there.
  make_root 48
  pack
  make_disk 56
  cp payload/root.img full.img
  truncate -s $((40 * 1024 * 1024)) payload/root.img
  out=$(install payload 2>&1) && fail "installed a cut image"
  refused "$out" "truncated"
  [ -f progress ] || fail "no progress file after the cut"
  grep -q '"verified_bytes":41943040' progress || fail "progress: $(cat progress)"
  cp full.img payload/root.img
  out=$(install payload) || fail "resumed install: $out"
  grep -q "resumed at byte 41943040" <<<"$out" || fail "not resumed: $out"
  [ "$(flags 2)" = "3 1 0" ] || fail "cgpt reads B as $(flags 2)"
  [ "$(slot_sum 1)" = "$a_sum" ] || fail "slot A's bytes changed"
  dd if="$img" bs=512 skip="$(cgpt show -i 2 -b "$img")" count="$(cgpt show -i 2 -s "$img")" of=b.part status=none
  cmp -n "$(stat -c %s full.img)" b.part full.img || fail "slot B does not hold root.img"
  [ ! -e progress ] || fail "progress left behind: $(cat progress)"
  pass ;;

veritysetup)
  command -v veritysetup >/dev/null || { echo "SKIP: veritysetup is not installed (apt-get install cryptsetup-bin)"; exit 77; }
  make_root 5
  pack
  offset=$(manifest_field payload/manifest.json 'd["verity"]["hash_offset"]')
  root=$(manifest_field payload/manifest.json 'd["verity"]["root_hash"]')
  salt=$(manifest_field payload/manifest.json 'd["verity"]["salt"]')
  out=$(veritysetup verify --hash-offset="$offset" payload/root.img payload/root.img "$root" 2>&1) \
    || fail "veritysetup refuses keel's tree: $out"
  veritysetup dump --hash-offset="$offset" payload/root.img >dump.out 2>&1 || fail "dump: $(cat dump.out)"
  grep -q "Salt:.*$salt" dump.out || fail "veritysetup reads another salt: $(cat dump.out)"
  # A tree veritysetup makes over the same data, with the same salt, has the same root hash.
  head -c "$offset" payload/root.img >theirs.img
  theirs=$(veritysetup format --salt="$salt" --hash-offset="$offset" theirs.img theirs.img | sed -n 's/^Root hash:[[:space:]]*//p')
  [ "$theirs" = "$root" ] || fail "veritysetup's root hash $theirs, keel's $root"
  # One byte flipped in the data: refused.
  printf '\x01' | dd of=payload/root.img bs=1 seek=$((offset / 2)) conv=notrunc status=none
  veritysetup verify --hash-offset="$offset" payload/root.img payload/root.img "$root" >out 2>&1 \
    && fail "veritysetup accepts a changed byte"
  out=$("$keel" update verify --trusted trusted payload 2>&1) && fail "keel update verify accepts a changed byte"
  grep -q "chunk" <<<"$out" || fail "verify said: $out"
  pass ;;

ed25519)
  # An Ed25519 key made by openssl: keel's signatures are what `openssl
  # pkeyutl -rawin` makes and checks (64 bytes over the manifest itself),
  # both ways, with the key id openssl's DER gives; a changed manifest is
  # refused by both.
  openssl genpkey -algorithm ed25519 -out ed25519.key 2>/dev/null
  openssl pkey -in ed25519.key -pubout -out trusted/ed25519.pem 2>/dev/null
  id=$(openssl pkey -pubin -in trusted/ed25519.pem -outform DER | sha256sum | cut -c1-16)
  make_root 1
  "$keel" update pack --image root.fs --version 2.0.1 --channel stable --key ed25519.key \
    --output payload >pack.out || fail "pack: $(cat pack.out)"
  [ "$(stat -c %s payload/manifest.json.sig)" = 64 ] || fail "keel's signature is not 64 bytes"
  openssl pkeyutl -verify -rawin -pubin -inkey trusted/ed25519.pem -in payload/manifest.json \
    -sigfile payload/manifest.json.sig >/dev/null || fail "openssl does not verify keel's Ed25519 signature"
  cp payload/manifest.json.sig keel.sig
  out=$("$keel" update sign --key ed25519.key payload/manifest.json) || fail "sign: $out"
  grep -q "(key $id)" <<<"$out" || fail "keel update sign said: $out; openssl's key id is $id"
  cmp -s keel.sig payload/manifest.json.sig || fail "two Ed25519 signatures of one manifest differ"
  openssl pkeyutl -sign -rawin -inkey ed25519.key -in payload/manifest.json -out openssl.sig
  cmp -s keel.sig openssl.sig || fail "openssl's Ed25519 signature is not keel's"
  # A signature openssl made (over a manifest keel has not signed) verifies
  # and installs.
  python3 -c "
import json; d=json.load(open('payload/manifest.json')); d['channel'] = 'beta'
open('payload/manifest.json','w').write(json.dumps(d, separators=(',',':')))"
  openssl pkeyutl -sign -rawin -inkey ed25519.key -in payload/manifest.json -out payload/manifest.json.sig
  out=$("$keel" update verify --trusted trusted payload) || fail "verify of openssl's signature: $out"
  grep -q "key $id" <<<"$out" || fail "verify said: $out"
  make_disk 4
  out=$(install payload) || fail "install: $out"
  grep -q "installed 2.0.1 into slot B (ROOT-B)" <<<"$out" || fail "install said: $out"
  grep -q "key $id" <<<"$out" || fail "install did not name key $id: $out"
  # One byte of the manifest changed after signing: refused by keel and openssl.
  sed -i 's/"beta"/"betb"/' payload/manifest.json
  openssl pkeyutl -verify -rawin -pubin -inkey trusted/ed25519.pem -in payload/manifest.json \
    -sigfile payload/manifest.json.sig >/dev/null 2>&1 && fail "openssl verifies a changed manifest"
  make_disk 4
  before=$(sha256sum <"$img")
  out=$(install payload 2>&1) && fail "installed a manifest changed after signing"
  grep -q "bad signature" <<<"$out" || fail "refusal said: $out"
  [ "$(sha256sum <"$img")" = "$before" ] || fail "the disk changed"
  out=$("$keel" update verify --trusted trusted payload 2>&1) && fail "verify accepts a changed manifest"
  grep -q "bad signature" <<<"$out" || fail "verify said: $out"
  pass ;;

*) echo "unknown case $case_name" >&2; exit 2 ;;
esac
