#!/usr/bin/env bash
# Benchmark: `keel run --rm IMAGE true` against `podman run --rm IMAGE true`
# in QEMU, where keel is PID 1 and mounts pure cgroup v2: podman's OCI
# runtime (crun) cannot run a container on a host that lacks
# CAP_SYS_RESOURCE, which is why run_image.sh has no podman figure there.
#
# One image for both: a busybox root made with umoci (as the host tests'
# busybox_image.sh does) and copied by skopeo to a docker-archive tar,
# which the guest loads into keel's store (`keel image load`) and podman's
# (`podman load`, overlay driver, graph root on a tmpfs). Both then run the
# container with their defaults minus networking (--network none): an
# overlay root, Docker's capabilities, seccomp profile and masks, pid,
# mount, uts, ipc, network namespaces and a cgroup, then remove it.
# podman is Debian's, with conmon and crun (its runtime) copied into the
# initramfs with their libraries, told by /etc/containers (written here)
# to use cgroupfs (no systemd in the guest), no event log and k8s-file
# container logs.
#
# Rounds alternate between the two (each goes first in turn), each round
# runs RUNS containers one after another; the figures are the median
# per-container times, the ratio podman / keel (above 1 means keel is
# faster) and each one's peak RSS for one run (GNU time's %M: the command
# and the children it waited for; podman's conmon leaves its parent and is
# not counted there, so the peak RSS of the process that waits for a
# running container, conmon for podman, is printed beside it). Times are
# TCG's (no KVM): compare ratios, not absolute figures.
#
# Needs podman, conmon and crun (installed with apt-get if missing), skopeo,
# umoci, GNU time (apt-get install time), busybox-static and what
# tools/keel-qemu needs (docs/qemu.md).
# usage: tests/bench/run_image_qemu.sh [KEEL_BINARY] [ROUNDS] [RUNS]
#   (default build/musl/keel, 5, 4; KEEP=1 keeps the work directory with
#   the console log)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
keel=$(realpath "${1:-$repo/build/musl/keel}")
rounds=${2:-5}
runs=${3:-4}
[ -x "$keel" ] || { echo "no keel binary at $keel (cmake --preset musl && cmake --build --preset musl, or pass one)" >&2; exit 1; }
missing=()
for tool in podman conmon crun; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -ne 0 ]; then
  echo "${missing[*]} missing: apt-get install -y ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
    { echo "could not install ${missing[*]}" >&2; exit 1; }
fi
for tool in skopeo umoci; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install $tool)" >&2; exit 1; }
done
profile=/usr/share/containers/seccomp.json
[ -f "$profile" ] || { echo "$profile (podman's seccomp profile) is missing (apt-get install golang-github-containers-common)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is missing (apt-get install time)" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=../host/busybox_image.sh
source "$repo/tests/host/busybox_image.sh"
require_static_busybox
work=$(mktemp -d /tmp/keel-bench-image-qemu.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# The image, named so that both stores know it by the same name.
image=localhost/keel-bench/busybox:1
umoci_busybox_image "$work/layout" "$work/unpacked" >/dev/null
skopeo copy --quiet "oci:$work/layout:1" "docker-archive:$work/busybox.tar:$image"

# podman's configuration: what the guest lacks (systemd, journald,
# netavark) replaced by plain files and cgroupfs; storage on the guest's
# tmpfs root.
etc=$work/containers
mkdir -p "$etc"
cp /etc/containers/policy.json "$etc/policy.json"
cat >"$etc/registries.conf" <<'EOF'
# No registries: the benchmark's image is loaded from a file.
unqualified-search-registries = []
EOF
cat >"$etc/storage.conf" <<'EOF'
[storage]
driver = "overlay"
graphroot = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
EOF
cat >"$etc/containers.conf" <<'EOF'
[containers]
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
runtime = "crun"
EOF

timeout=$((300 + (rounds + 1) * runs * 2 * 30))
log=$work/console.log
echo "run_image_qemu: booting (up to $timeout s; console in $log while it runs)" >&2
status=0
"$repo/tools/keel-qemu" --keel "$keel" --busybox --memory 2048 --timeout "$timeout" \
  --load-module overlay \
  --binary "$(command -v podman)" --binary "$(command -v conmon)" --binary "$(command -v crun)" \
  --binary /usr/bin/time \
  --file "$etc:/etc/containers" --file "$profile:$profile" \
  --file "$work/busybox.tar:/image.tar" \
  --file "$repo/tests/bench/guest/tmpfs_root.sh:/tmpfs_root.sh" \
  --file "$repo/tests/bench/guest/run_image.sh:/bench.sh" \
  --append "keel.run=\"/bin/sh /bench.sh $rounds $runs $image\"" \
  --log "$log" >/dev/null 2>"$work/runner.log" || status=$?
tr -d '\r' <"$log" >"$work/console"
if [ "$status" -ne 0 ] || ! grep -q '^BENCH: DONE' "$work/console"; then
  echo "run_image_qemu: the guest did not finish (keel-qemu status $status):" >&2
  grep -E 'BENCH|keel|podman|conmon|crun|Error|panic' "$work/console" | tail -40 >&2
  tail -3 "$work/runner.log" >&2
  exit 1
fi
grep -E '^BENCH: ([a-z ]*: |root filesystem)' "$work/console" | sed 's/^BENCH: /  guest: /'

median() {
  awk -v rt="$1" '$1 == "BENCH:" && $2 == rt && $3 ~ /^[0-9]+$/ {print $4}' "$work/console" |
    sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}
rss() { awk -v rt="$1" '$1 == "BENCH_RSS:" && $2 == rt {print $3}' "$work/console"; }
parent() { awk -v rt="$1" '$1 == "BENCH_PARENT:" && $2 == rt {print $3 " " $4 " kB"}' "$work/console"; }
awk -v k="$(median keel)" -v p="$(median podman)" -v rounds="$rounds" -v runs="$runs" \
  -v krss="$(rss keel)" -v prss="$(rss podman)" -v kparent="$(parent keel)" -v pparent="$(parent podman)" 'BEGIN {
  printf "run_image_qemu: %d rounds of %d containers in QEMU (TCG), cgroup v2\n", rounds, runs
  printf "  (run --rm --network none of a busybox image loaded from one docker-archive)\n"
  printf "  keel run --rm:   %.1f ms a container (median of rounds)\n", k
  printf "  podman run --rm: %.1f ms a container (median of rounds)\n", p
  printf "  podman / keel:   %.2fx\n", p / k
  printf "  peak RSS of one run: keel %d kB, podman %d kB\n", krss, prss
  printf "  the container'"'"'s parent while it runs: keel: %s, podman: %s (peak RSS)\n", kparent, pparent
}'
