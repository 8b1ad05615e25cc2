#!/usr/bin/env bash
# Host integration tests of the image store (`keel image ...`) with real
# tools: umoci builds an OCI image of a busybox root, skopeo copies it to
# a `docker save` archive and an OCI archive, keel loads each, lists and
# inspects them, mounts a container root and runs busybox in it; malicious
# layers built with python3's tarfile are refused and leave the store as
# it was.
# usage: images.sh KEEL_BINARY CASE
set -euo pipefail

keel=$(realpath "$1")
case_name=$2
work=$(mktemp -d /tmp/keel-images.XXXXXX)
store=$work/store
cleanup() {
  for id in $(ls "$store/containers" 2>/dev/null); do
    "$keel" image umount --store "$store" "$id" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $case_name: $*" >&2; exit 1; }
pass() { echo "PASS: $case_name"; }
image() { local verb=$1; shift; "$keel" image "$verb" --store "$store" "$@"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: unpacking layers with their owners and mounting overlays needs root"
  exit 77
fi
for tool in umoci skopeo python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool (tools/setup.sh all installs it)"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=busybox_image.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/busybox_image.sh"
require_static_busybox

# An OCI layout $work/oci with the tag `1`: a busybox root made by umoci.
make_oci_image() {
  umoci_busybox_image "$work/oci" "$work/bundle"
}

# Every file under the store but the lock, with sizes.
store_listing() { (cd "$store" && find . -path ./lock -prune -o -printf '%p %s\n' | sort); }

case "$case_name" in
load_formats)
  make_oci_image
  skopeo copy -q "oci:$work/oci:1" "docker-archive:$work/docker.tar:example.com/box:docker"
  skopeo copy -q "oci:$work/oci:1" "oci-archive:$work/oci.tar:2"
  image load -i "$work/oci" --name example.com/box >"$work/out" 2>&1 || fail "load layout: $(cat "$work/out")"
  grep -q 'example.com/box:1' "$work/out" || fail "layout name: $(cat "$work/out")"
  image load -i "$work/docker.tar" >"$work/out" 2>&1 || fail "load docker-archive: $(cat "$work/out")"
  grep -q 'example.com/box:docker' "$work/out" || fail "docker-archive name: $(cat "$work/out")"
  image load --name example.com/box <"$work/oci.tar" >"$work/out" 2>&1 || fail "load oci-archive from stdin: $(cat "$work/out")"
  grep -q 'example.com/box:2' "$work/out" || fail "oci-archive name: $(cat "$work/out")"
  image ls >"$work/ls" || fail "ls"
  grep -q '^example.com/box  *1 ' "$work/ls" || fail "ls: $(cat "$work/ls")"
  grep -q '^example.com/box  *docker ' "$work/ls" || fail "ls: $(cat "$work/ls")"
  image ls --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d)>=1, d' || fail "ls --json"
  image inspect example.com/box:1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["config"]["config"]["Cmd"] == ["/bin/sh"], d["config"]
assert len(d["layers"]) == 1, d["layers"]' || fail "inspect"
  # One layer, unpacked once for all three loads.
  [ "$(ls "$store/layers/sha256" | wc -l)" = 1 ] || fail "layers: $(ls "$store/layers/sha256")"
  pass ;;

zstd_layers)
  # skopeo recompresses the image's layer with zstd (the OCI media type
  # ...tar+zstd); keel loads it, checks the decompressed digest against
  # the config's diff_ids, and the root runs busybox. The same layer
  # gzipped is the same diff id: unpacked once.
  make_oci_image
  skopeo copy -q --dest-compress-format zstd "oci:$work/oci:1" "oci:$work/zstd:z" ||
    fail "skopeo to zstd"
  grep -rq 'tar+zstd' "$work/zstd/blobs" || fail "skopeo made no zstd layer"
  image load -i "$work/zstd" --name example.com/zbox >"$work/out" 2>&1 || fail "load: $(cat "$work/out")"
  grep -q 'example.com/zbox:z' "$work/out" || fail "name: $(cat "$work/out")"
  grep -q 'tar+zstd' < <(image inspect example.com/zbox:z) || fail "inspect: $(image inspect example.com/zbox:z)"
  root=$(image mount example.com/zbox:z z1) || fail "mount"
  out=$(chroot "$root" /bin/sh -c 'echo from-zstd') || fail "busybox in the root"
  [ "$out" = from-zstd ] || fail "ran: $out"
  image umount z1 || fail "umount"
  image load -i "$work/oci" --name example.com/box >/dev/null || fail "load gzip"
  [ "$(ls "$store/layers/sha256" | wc -l)" = 1 ] || fail "layers: $(ls "$store/layers/sha256")"
  pass ;;

run_root)
  make_oci_image
  image load -i "$work/oci" --name example.com/box >/dev/null || fail "load"
  root=$(image mount example.com/box:1 c1) || fail "mount"
  chroot "$root" /bin/busybox true || fail "busybox true in the root"
  out=$(chroot "$root" /bin/sh -c 'echo written > /file; cat /file') || fail "write in the root"
  [ "$out" = written ] || fail "wrote $out"
  [ -f "$store/containers/c1/upper/file" ] || fail "the write did not land in the upper directory"
  layer=$(ls "$store/layers/sha256")
  [ ! -e "$store/layers/sha256/$layer/file" ] || fail "the write reached the layer"
  image rm example.com/box:1 2>"$work/err" && fail "rm of an image in use succeeded"
  grep -q 'container root uses it' "$work/err" || fail "rm in use: $(cat "$work/err")"
  image umount c1 || fail "umount"
  [ ! -e "$store/containers/c1" ] || fail "the container's directory is left"
  image rm example.com/box:1 >/dev/null || fail "rm"
  [ -z "$(ls "$store/layers/sha256")" ] || fail "layers left after rm"
  pass ;;

malicious_layers)
  make_oci_image
  image load -i "$work/oci" --name example.com/box >/dev/null || fail "load"
  before=$(store_listing)
  python3 - "$work" <<'PY'
import io, sys, tarfile
work = sys.argv[1]
def layer(name, build):
    with tarfile.open(f"{work}/{name}.tar", "w") as tar:
        def add(info, data=b""):
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        build(tarfile, add)
def dotdot(t, add): add(t.TarInfo("../escape"), b"x")
def absolute(t, add): add(t.TarInfo("/etc/keel-escape"), b"x")
def symlink_out(t, add):
    link = t.TarInfo("out"); link.type = t.SYMTYPE; link.linkname = "/tmp"; add(link)
    add(t.TarInfo("out/keel-escape"), b"x")
def hardlink_out(t, add):
    link = t.TarInfo("passwd"); link.type = t.LNKTYPE; link.linkname = "../../../etc/passwd"; add(link)
def device(t, add):
    dev = t.TarInfo("mem"); dev.type = t.CHRTYPE; dev.devmajor = 1; dev.devminor = 1; add(dev)
for name, build in [("dotdot", dotdot), ("absolute", absolute), ("symlink_out", symlink_out),
                    ("hardlink_out", hardlink_out), ("device", device)]:
    layer(name, build)
PY
  for evil in dotdot:../escape absolute:/etc/keel-escape symlink_out:out/keel-escape hardlink_out:passwd device:mem; do
    name=${evil%%:*} entry=${evil#*:}
    rm -rf "$work/evil"
    cp -r "$work/oci" "$work/evil"
    umoci unpack --image "$work/evil:1" "$work/evil-bundle" >/dev/null 2>&1 || true
    # A second layer: the malicious tar, added to the manifest with umoci raw add-layer.
    umoci raw add-layer --image "$work/evil:1" "$work/$name.tar" || fail "add-layer $name"
    rm -rf "$work/evil-bundle"
    image load -i "$work/evil" --name example.com/evil 2>"$work/err" && fail "$name: load succeeded"
    grep -qF "\`$entry\`" "$work/err" || fail "$name: error does not name $entry: $(cat "$work/err")"
    [ "$(store_listing)" = "$before" ] || fail "$name: the store changed"
    grep -q evil < <(image ls) && fail "$name: listed"
  done
  [ ! -e /etc/keel-escape ] && [ ! -e /tmp/keel-escape ] || fail "a layer escaped"
  pass ;;

store_policy)
  # The store's policy: a layer with a device node is refused until
  # `keel image policy --allow-devices yes`; setuid bits are kept until
  # `--keep-setid no`. A malformed policy.json is an error naming it.
  python3 - "$work" <<'PY'
import io, sys, tarfile
work = sys.argv[1]
def rootfs(name, members):
    with tarfile.open(f"{work}/{name}.tar", "w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
def device():
    dev = tarfile.TarInfo("null"); dev.type = tarfile.CHRTYPE; dev.devmajor = 1; dev.devminor = 3
    return dev
def setuid(name):
    info = tarfile.TarInfo(name); info.mode = 0o4755
    return info
rootfs("with-device", [(device(), b"")])
rootfs("setuid-kept", [(setuid("su"), b"kept")])
rootfs("setuid-dropped", [(setuid("su"), b"dropped")])
PY
  out=$(image policy) || fail "policy: $out"
  [ "$out" = "$(printf 'allow-devices: no\nkeep-setid: yes')" ] || fail "the default policy: $out"
  image import "$work/with-device.tar" dev:1 2>"$work/err" && fail "a device node was unpacked by default"
  grep -q '`null`' "$work/err" || fail "the refusal does not name the entry: $(cat "$work/err")"
  image import "$work/setuid-kept.tar" su:kept >/dev/null || fail "import setuid"
  kept=$(find "$store/layers/sha256" -name su -perm -4000 | wc -l)
  [ "$kept" = 1 ] || fail "setuid dropped by default: $(find "$store/layers" -name su -printf '%m %p\n')"
  image policy --allow-devices yes --keep-setid no >/dev/null || fail "policy change"
  image import "$work/with-device.tar" dev:1 >/dev/null || fail "a device node refused with --allow-devices yes"
  [ -c "$(find "$store/layers/sha256" -name null | head -n 1)" ] || fail "no device node in the layer"
  image import "$work/setuid-dropped.tar" su:dropped >/dev/null || fail "import setuid again"
  modes=$(find "$store/layers/sha256" -name su -printf '%m\n' | sort | tr '\n' ' ')
  [ "$modes" = "4755 755 " ] || fail "modes of the two su files: $modes"
  image policy --keep-setid maybe 2>"$work/err" && fail "a bad value was taken"
  grep -q -- '--keep-setid: invalid boolean' "$work/err" || fail "bad value: $(cat "$work/err")"
  echo '{"allow_devices": "sometimes"}' >"$store/policy.json"
  image import "$work/setuid-kept.tar" su:again 2>"$work/err" && fail "a malformed policy was taken"
  grep -q 'policy.json' "$work/err" || fail "the malformed policy is not named: $(cat "$work/err")"
  pass ;;

import_rootfs)
  mkdir -p "$work/rootfs/bin"
  cp "$busybox" "$work/rootfs/bin/busybox"
  ln -s busybox "$work/rootfs/bin/true"
  tar -C "$work/rootfs" -czf "$work/rootfs.tar.gz" .
  id=$(image import "$work/rootfs.tar.gz" imported:1) || fail "import"
  grep -q '^imported  *1 ' < <(image ls) || fail "ls: $(image ls)"
  grep -q "$id" < <(image inspect imported:1) || fail "inspect"
  root=$(image mount --read-only imported:1 c2) || fail "mount"
  chroot "$root" /bin/true || fail "true in the imported root"
  image umount c2
  pass ;;

*)
  echo "unknown case $case_name" >&2
  exit 2 ;;
esac
