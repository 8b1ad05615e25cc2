#!/usr/bin/env bash
# Benchmark: `keel run --rm IMAGE true` against `podman run --rm IMAGE true`
# of the same image (a busybox-static rootfs imported into each one's
# store), side by side: rounds alternate between the two, each round runs
# RUNS containers one after another, and the figure is the median time per
# container of each and their ratio (podman / keel: above 1 means keel is
# faster). Both use their defaults minus networking (--network none: keel's
# bridge and podman's netavark would otherwise differ in what they set up),
# so each mounts an overlay root, writes a config with Docker's defaults
# (capabilities, seccomp profile, masks), runs the container and removes it.
#
# podman cannot run a container on a host whose sandbox lacks
# CAP_SYS_RESOURCE (its OCI runtime's setrlimit is refused): then this
# prints podman's error and keel's figures alone; run_image_qemu.sh makes
# the comparison in a QEMU guest where podman runs.
# usage: tests/bench/run_image.sh [KEEL_BINARY] [ROUNDS] [RUNS]   (default build/default/keel, 5, 20)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
keel=$(realpath "${1:-$repo/build/default/keel}")
rounds=${2:-5}
runs=${3:-20}
work=$(mktemp -d /tmp/keel-bench.XXXXXX)
store=$work/store
state=$work/state
image=localhost/keel-bench/busybox:1
cleanup() {
  if command -v podman >/dev/null; then podman rmi -f "$image" >/dev/null 2>&1 || true; fi
  "$keel" image rm --store "$store" -f "$image" >/dev/null 2>&1 || true
  umount -R "$store" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
busybox=$(command -v busybox)

mkdir -p "$work/rootfs/bin"
cp "$busybox" "$work/rootfs/bin/busybox"
for applet in true sh; do ln -s busybox "$work/rootfs/bin/$applet"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$keel" image import --store "$store" "$work/rootfs.tar" "$image" >/dev/null

podman_ok=no
if command -v podman >/dev/null && podman import "$work/rootfs.tar" "$image" >/dev/null 2>&1; then
  if podman run --rm --network none "$image" /bin/true 2>"$work/podman.err"; then
    podman_ok=yes
  fi
fi

# ns_per_container KIND: RUNS containers in a row; the mean time per
# container in nanoseconds.
ns_per_container() {
  local start end i
  start=$(date +%s%N)
  for i in $(seq "$runs"); do
    case $1 in
      keel) "$keel" run --rm --store "$store" --root "$state" --network none "$image" /bin/true ;;
      podman) podman run --rm --network none "$image" /bin/true ;;
    esac
  done
  end=$(date +%s%N)
  echo $(((end - start) / runs))
}

kinds=(keel)
[ "$podman_ok" = yes ] && kinds+=(podman)
for kind in "${kinds[@]}"; do ns_per_container "$kind" >/dev/null; done # warm-up
: >"$work/times"
for round in $(seq "$rounds"); do
  order=("${kinds[@]}")
  [ $((round % 2)) -eq 0 ] && order=($(printf '%s\n' "${kinds[@]}" | tac))
  for kind in "${order[@]}"; do echo "$kind $(ns_per_container "$kind")" >>"$work/times"; done
done

median() { grep "^$1 " "$work/times" | awk '{print $2}' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
keel_ns=$(median keel)
printf 'keel run --rm:   %6.1f ms per container (median of %d rounds of %d)\n' \
  "$(echo "$keel_ns / 1000000" | bc -l)" "$rounds" "$runs"
if [ "$podman_ok" = yes ]; then
  podman_ns=$(median podman)
  printf 'podman run --rm: %6.1f ms per container\n' "$(echo "$podman_ns / 1000000" | bc -l)"
  printf 'ratio podman/keel: %.2fx\n' "$(echo "$podman_ns / $keel_ns" | bc -l)"
else
  echo "podman run --rm: cannot run here: $(tail -1 "$work/podman.err" 2>/dev/null || echo 'podman is not installed')"
fi
