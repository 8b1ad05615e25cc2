#!/usr/bin/env bash
# Benchmark: `keel oci run` against `crun run` and `runc run` in QEMU, where
# keel is PID 1 and mounts pure cgroup v2 (crun refuses this host's v1
# layout, see oci_run.sh). The same work as oci_run.sh: a busybox bundle
# running /bin/true, runc spec's namespaces (pid, network, ipc, uts, mount),
# Docker's default seccomp profile (containers-common's
# /usr/share/containers/seccomp.json) in the spec's form, plus a
# linux.resources memory limit so each runtime makes a cgroup with a limit
# (the guest checks once that each container's group has it). Rounds
# alternate between the runtimes (each goes first in turn), each round runs
# RUNS containers one after another (create, start, wait, delete); the
# figures are the median per-container times and the ratios crun / keel and
# runc / keel (above 1 means keel is faster), and each runtime's peak RSS
# for one `run` (GNU time's %M in the guest: the runtime and the children it
# waited for).
#
# Same conditions for all three: the initramfs's rootfs cannot be
# pivot_root'ed away from (EINVAL whatever the new root is on, even a
# tmpfs), so by default the guest first does what switch_root does in a
# private mount namespace (a tmpfs moved onto / and chroot'ed into, the
# bundles copied onto it) and all three enter their containers with
# pivot_root. ENTRY=no-pivot instead stays in the initramfs and passes
# --no-pivot to all three (MS_MOVE + chroot; keel would pick it by itself).
# Times are TCG's (no KVM): compare ratios, not absolute figures.
#
# Needs crun (installed with apt-get if missing), runc (apt-get install runc),
# golang-github-containers-common, GNU time (apt-get install time),
# busybox-static and what tools/keel-qemu needs (docs/qemu.md).
# usage: tests/bench/oci_run_qemu.sh [KEEL_BINARY] [ROUNDS] [RUNS]
#   (default build/musl/keel, 5, 20; ENTRY=pivot|no-pivot, default pivot;
#   KEEP=1 keeps the work directory with the console log)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
keel=$(realpath "${1:-$repo/build/musl/keel}")
rounds=${2:-5}
runs=${3:-20}
entry=${ENTRY:-pivot}
case $entry in pivot | no-pivot) ;; *) echo "ENTRY=$entry: expected pivot or no-pivot" >&2; exit 2 ;; esac
[ -x "$keel" ] || { echo "no keel binary at $keel (cmake --preset musl && cmake --build --preset musl, or pass one)" >&2; exit 1; }
if ! command -v crun >/dev/null; then
  echo "crun is missing: apt-get install -y crun" >&2
  apt-get install -y crun >/dev/null || { echo "could not install crun" >&2; exit 1; }
fi
command -v runc >/dev/null || { echo "runc is not installed (apt-get install runc)" >&2; exit 1; }
profile=/usr/share/containers/seccomp.json
[ -f "$profile" ] || { echo "$profile is missing (apt-get install golang-github-containers-common)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is missing (apt-get install time)" >&2; exit 1; }
busybox=/bin/busybox
grep -q 'statically linked' < <(file -L "$busybox") || { echo "$busybox is not static (apt-get install busybox-static)" >&2; exit 1; }
work=$(mktemp -d /tmp/keel-bench-qemu.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# The benchmark's bundle: runc spec's default with terminal off, /bin/true,
# Docker's seccomp profile and a 128 MiB memory limit.
limit=$((128 << 20))
bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin"
cp "$busybox" "$bundle/rootfs/bin/busybox"
for applet in true sh sed cat; do ln -s busybox "$bundle/rootfs/bin/$applet"; done
(cd "$bundle" && runc spec)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"true"/' \
  -e '/"cgroup"$/d' "$bundle/config.json"
grep -q '"true"' "$bundle/config.json" || { echo "could not set the bundle's process" >&2; exit 1; }
# Docker's profile format (archMap, includes/excludes by capability and
# architecture) as linux.seccomp for this bundle, as oci_run.sh does; the
# check bundle is the same with a process that prints its cgroup and that
# group's memory.max.
mkdir -p "$work/check"
cp -a "$bundle/rootfs" "$work/check/rootfs"
echo "$limit" >"$work/check/limit"
python3 "$repo/tests/bench/docker_seccomp.py" "$profile" "$bundle/config.json"
python3 - "$bundle/config.json" "$work/check/config.json" "$limit" <<'PY'
import json, sys
path, check_path, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = json.load(open(path))
spec["linux"]["resources"] = {"memory": {"limit": limit}}
json.dump(spec, open(path, "w"), indent=1)
spec["process"]["args"] = ["sh", "-c",
    "g=$(sed -n 's/^0:://p' /proc/self/cgroup); echo GROUP $g $(cat /sys/fs/cgroup$g/memory.max)"]
json.dump(spec, open(check_path, "w"), indent=1)
PY

# Each container takes a few hundred ms under TCG; allow for the slowest.
timeout=$((180 + (rounds + 1) * runs * 3 * 2))
log=$work/console.log
echo "oci_run_qemu: booting (up to $timeout s; console in $log while it runs)" >&2
status=0
"$repo/tools/keel-qemu" --keel "$keel" --busybox --memory 1024 --timeout "$timeout" \
  --binary "$(command -v crun)" --binary "$(command -v runc)" --binary /usr/bin/time \
  --file "$bundle:/bundle" --file "$work/check:/check" \
  --file "$repo/tests/bench/guest/tmpfs_root.sh:/tmpfs_root.sh" \
  --file "$repo/tests/bench/guest/oci_run.sh:/bench.sh" \
  --append "keel.run=\"/bin/sh /bench.sh $rounds $runs $entry\"" \
  --log "$log" >/dev/null 2>"$work/runner.log" || status=$?
tr -d '\r' <"$log" >"$work/console"
if [ "$status" -ne 0 ] || ! grep -q '^BENCH: DONE' "$work/console"; then
  echo "oci_run_qemu: the guest did not finish (keel-qemu status $status):" >&2
  grep -E 'BENCH|keel|crun|runc|panic' "$work/console" | tail -40 >&2
  tail -3 "$work/runner.log" >&2
  exit 1
fi
grep -E '^BENCH: ([a-z]*: |root filesystem)' "$work/console" | sed 's/^BENCH: /  guest: /'

median() {
  awk -v rt="$1" '$1 == "BENCH:" && $2 == rt && $3 ~ /^[0-9]+$/ {print $4}' "$work/console" |
    sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}
rss() { awk -v rt="$1" '$1 == "BENCH_RSS:" && $2 == rt {print $3}' "$work/console"; }
keel_ms=$(median keel)
crun_ms=$(median crun)
runc_ms=$(median runc)
awk -v k="$keel_ms" -v c="$crun_ms" -v r="$runc_ms" -v rounds="$rounds" -v runs="$runs" \
  -v entry="$entry" -v krss="$(rss keel)" -v crss="$(rss crun)" -v rrss="$(rss runc)" 'BEGIN {
  printf "oci_run_qemu: %d rounds of %d containers in QEMU (TCG), cgroup v2, entry %s\n", rounds, runs, entry
  printf "  (/bin/true, busybox bundle, runc spec namespaces, Docker seccomp profile, memory limit)\n"
  printf "  keel oci run: %.1f ms a container (median of rounds)\n", k
  printf "  crun run:     %.1f ms a container (median of rounds)\n", c
  printf "  runc run:     %.1f ms a container (median of rounds)\n", r
  printf "  crun / keel:  %.2fx\n", c / k
  printf "  runc / keel:  %.2fx\n", r / k
  printf "  peak RSS of one run: keel %d kB, crun %d kB, runc %d kB\n", krss, crss, rrss
}'
