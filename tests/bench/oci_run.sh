#!/usr/bin/env bash
# Benchmark: `keel oci run` against `runc run` of the same busybox bundle
# running /bin/true, on this host, side by side: rounds alternate between the
# runtimes, each round runs RUNS containers one after another (create, start,
# wait, delete), and the figure is the median per-container time of each and
# their ratio (runc / keel: above 1 means keel is faster). The bundle is
# runc spec's default with terminal off and the namespaces runc puts there
# (pid, network, ipc, uts, mount; no cgroup namespace) plus Docker's default
# seccomp profile (containers-common's /usr/share/containers/seccomp.json,
# turned into the runtime spec's form for the bundle's capabilities as
# podman does), so both runtimes do the same work. On a host whose cgroups
# are v1 or hybrid (this kind of machine), both place the container in a
# group of every v1 hierarchy. crun and podman cannot run containers on a
# host without CAP_SYS_RESOURCE; compare with them in QEMU.
# Also prints each runtime's peak RSS for one `run` (GNU time's %M).
# usage: tests/bench/oci_run.sh [KEEL_BINARY] [ROUNDS] [RUNS]   (default build/default/keel, 7, 50)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
keel=$(realpath "${1:-$repo/build/default/keel}")
rounds=${2:-7}
runs=${3:-50}
work=$(mktemp -d /tmp/keel-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v runc >/dev/null || { echo "runc is not installed (apt-get install runc)" >&2; exit 1; }
profile=/usr/share/containers/seccomp.json
[ -f "$profile" ] || { echo "$profile is missing (apt-get install golang-github-containers-common)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is missing (apt-get install time)" >&2; exit 1; }
busybox=$(command -v busybox)

bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin"
cp "$busybox" "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/true"
ln -s busybox "$bundle/rootfs/bin/sh"
(cd "$bundle" && runc spec)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"true"/' \
  -e '/"cgroup"$/d' "$bundle/config.json"
grep -q '"true"' "$bundle/config.json" || { echo "could not set the bundle's process" >&2; exit 1; }
# Docker's profile format (archMap, includes/excludes by capability and
# architecture) as linux.seccomp for this bundle.
python3 "$repo/tests/bench/docker_seccomp.py" "$profile" "$bundle/config.json"

# ns_per_container RUNTIME...: runs RUNS containers in a row, prints the
# mean time per container in nanoseconds.
ns_per_container() {
  local start end i
  start=$(date +%s%N)
  for i in $(seq "$runs"); do
    "$@" run --bundle "$bundle" "bench-$i" >/dev/null
  done
  end=$(date +%s%N)
  echo $(((end - start) / runs))
}

# One warm-up round each (page cache, seccomp cache), then the rounds.
ns_per_container "$keel" oci --root "$work/keel-root" >/dev/null
ns_per_container runc --root "$work/runc-root" >/dev/null
: >"$work/times"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then
    echo "keel $(ns_per_container "$keel" oci --root "$work/keel-root")" >>"$work/times"
    echo "runc $(ns_per_container runc --root "$work/runc-root")" >>"$work/times"
  else
    echo "runc $(ns_per_container runc --root "$work/runc-root")" >>"$work/times"
    echo "keel $(ns_per_container "$keel" oci --root "$work/keel-root")" >>"$work/times"
  fi
done

# peak_rss_kb RUNTIME...: the runtime process's peak RSS for one run.
peak_rss_kb() {
  /usr/bin/time -f '%M' -o "$work/rss" "$@" run --bundle "$bundle" rss >/dev/null
  cat "$work/rss"
}
keel_rss=$(peak_rss_kb "$keel" oci --root "$work/keel-root")
runc_rss=$(peak_rss_kb runc --root "$work/runc-root")

median() { grep "^$1 " "$work/times" | awk '{print $2}' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
keel_ns=$(median keel)
runc_ns=$(median runc)
awk -v k="$keel_ns" -v r="$runc_ns" -v rounds="$rounds" -v runs="$runs" -v krss="$keel_rss" -v rrss="$runc_rss" 'BEGIN {
  printf "oci_run: %d rounds of %d containers (/bin/true, busybox bundle, runc spec namespaces, Docker seccomp profile)\n", rounds, runs
  printf "  keel oci run: %.2f ms a container (median of rounds)\n", k / 1e6
  printf "  runc run:     %.2f ms a container (median of rounds)\n", r / 1e6
  printf "  runc / keel:  %.2fx\n", r / k
  printf "  peak RSS of one run: keel %d kB, runc %d kB\n", krss, rrss
}'
