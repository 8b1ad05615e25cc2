# Sourced by the host tests that need a busybox image made by a real tool
# (umoci), not by keel: images.sh, registry.sh and run_start.sh.
# shellcheck shell=bash

# Exits 77 (skip, saying why) without a statically linked busybox; sets
# $busybox to it otherwise.
require_static_busybox() {
  busybox=$(command -v busybox || true)
  if [ -z "$busybox" ] || ! file -L "$busybox" | grep -q 'statically linked'; then
    echo "SKIP: no statically linked busybox (tools/setup.sh installs busybox-static)"
    exit 77
  fi
}

# umoci_busybox_image LAYOUT BUNDLE [APPLET...]: the OCI layout LAYOUT with
# the tag `1`, a busybox root (sh true echo cat ls and the APPLETs) with Cmd
# /bin/sh and PATH=/bin, unpacked and repacked by umoci through the scratch
# directory BUNDLE.
umoci_busybox_image() {
  local layout=$1 bundle=$2 applet
  shift 2
  umoci init --layout "$layout"
  umoci new --image "$layout:1"
  umoci unpack --image "$layout:1" "$bundle" >/dev/null
  mkdir -p "$bundle/rootfs/bin"
  cp "$busybox" "$bundle/rootfs/bin/busybox"
  for applet in sh true echo cat ls "$@"; do ln -sf busybox "$bundle/rootfs/bin/$applet"; done
  umoci repack --image "$layout:1" "$bundle" >/dev/null
  umoci config --image "$layout:1" --config.cmd /bin/sh --config.env PATH=/bin
}
