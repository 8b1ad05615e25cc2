#!/usr/bin/env bash
# Installs the Debian packages keel needs. Idempotent: packages already
# present are skipped, apt runs only when something is missing. Safe to call
# from every entry point.
#
#   tools/setup.sh demo   what tools/demo.sh needs: the glibc build, disk images and QEMU
#   tools/setup.sh        everything the test suite needs (the default)
set -euo pipefail

profile=${1:-all}
case "$profile" in
  demo | all) ;;
  *) echo "usage: tools/setup.sh [demo|all]" >&2; exit 2 ;;
esac

packages=(
  # build (the glibc preset)
  cmake ninja-build g++ pkg-config file
  libseccomp-dev libcap-dev libprotobuf-dev protobuf-compiler libmbedtls-dev
  doctest-dev zlib1g-dev liblzma-dev libzstd-dev liblmdb-dev libnghttp2-dev
  # boot images and QEMU
  qemu-system-x86 linux-image-amd64 busybox-static cpio gzip xz-utils zstd kmod
  # disk images (tools/mkimage): erofs root, GPT, ext4 STATE
  erofs-utils gdisk e2fsprogs
  # dm-verity trees for a verified root (tools/mkimage --verity)
  cryptsetup-bin
)
if [ "$profile" = all ]; then
  packages+=(
    clang-format git
    # fuzzing: clang 16 pairs with libc++ 16, which has std::expected
    clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev
    # live patch tests: kbuild for Debian's kernel (modules built at test time), test keys
    linux-headers-amd64 make gcc openssl
    # Ed25519 signing checked under memcheck for secret-dependent branches
    valgrind
    # host tests of the container runtime (pgrep); of its bridge network
    # (ip, and nft to read the rules keel writes through netlink)
    procps iproute2 nftables
    # host tests of the image store (tests/host/images.sh): images made by
    # umoci, copied to docker-archive and oci-archive by skopeo
    umoci skopeo python3
    # host tests of `keel image pull` (tests/host/registry.sh): Debian's
    # registry to pull from; openssl (above) makes the HTTPS test's CA
    docker-registry
    # KV compatibility tests and benchmark (tests/host/kv_*.sh, tests/bench/kv.sh):
    # etcd 3.4 to compare with, its etcdctl, and its Go client built in GOPATH mode
    etcd-server etcd-client golang-go golang-etcd-server-dev
    # A/B slot tests (tests/host/update_slots.sh): ChromeOS's cgpt makes and
    # reads the slots' GPT flags
    cgpt
    # update payloads (tests/host/update_payload.sh): veritysetup checks the
    # dm-verity tree keel builds
    cryptsetup-bin
  )
fi

installed() {
  grep -q "install ok installed" < <(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -ne 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$profile" = all ] || exit 0

# The live patch tests build against the headers of the kernel QEMU boots
# (the newest /boot/vmlinuz-*). linux-headers-amd64 follows the newest kernel
# in the archive; a machine whose kernel is older needs that kernel's own
# headers, if the archive still has them (best effort: the tests skip without).
kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
if [ -n "$kernel" ] && ! installed "linux-headers-${kernel#vmlinuz-}"; then
  echo "setup: installing linux-headers-${kernel#vmlinuz-}" >&2
  $sudo apt-get install -y -qq --no-install-recommends "linux-headers-${kernel#vmlinuz-}" >/dev/null ||
    echo "setup: linux-headers-${kernel#vmlinuz-} is not available: the live patch tests will skip" >&2
fi
