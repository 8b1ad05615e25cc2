#!/usr/bin/env bash
# Benchmark: unpacking an image layer with keel (unpack_layer(), through
# the test-only tests/bench/keel_layer_unpack) against GNU `tar -x` of the
# same layer, gzip and zstd. The layer is a generated tree of FILES small
# files (a few KiB each, in nested directories, with symlinks and hard
# links) like a distribution's /usr. Rounds alternate between the two; each
# unpacks into a fresh directory on the same filesystem, and both end with
# a sync of that filesystem (unpack_layer syncs before its rename, so tar
# gets `sync -f` too). Prints the median time of each and their ratio
# (tar / keel: above 1 means keel is faster), per compression.
# usage: tests/bench/layer_unpack.sh [UNPACK_BINARY] [ROUNDS] [FILES]
#        (default build/default/tests/bench/keel_layer_unpack, 7, 4000)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unpack=$(realpath "${1:-$repo/build/default/tests/bench/keel_layer_unpack}")
rounds=${2:-7}
files=${3:-4000}
[ -x "$unpack" ] || { echo "$unpack is missing (cmake --build --preset default --target keel_layer_unpack)" >&2; exit 1; }
command -v zstd >/dev/null || { echo "zstd is not installed (apt-get install zstd)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/keel-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

tree=$work/tree
for i in $(seq "$files"); do
  dir=$tree/usr/lib/d$((i % 97))/s$((i % 13))
  [ -d "$dir" ] || mkdir -p "$dir"
  head -c $((512 + (i * 37) % 8192)) /dev/urandom | base64 >"$dir/f$i"
  if [ $((i % 50)) -eq 0 ]; then ln -s "f$i" "$dir/l$i"; ln "$dir/f$i" "$dir/h$i"; fi
done
tar -C "$tree" --format=pax -cf "$work/layer.tar" .
gzip -6 -c "$work/layer.tar" >"$work/layer.tar.gz"
zstd -q -3 -c "$work/layer.tar" >"$work/layer.tar.zst"
size=$(stat -c %s "$work/layer.tar")

# ns_for KIND COMPRESSION N: one unpack into a fresh directory, in ns.
ns_for() {
  local kind=$1 compression=$2 n=$3 start end dest=$work/out
  rm -rf "$dest"
  mkdir -p "$dest"
  start=$(date +%s%N)
  if [ "$kind" = keel ]; then
    "$unpack" "$work/layer.tar.$compression" "$dest" layer
  elif [ "$compression" = gz ]; then
    mkdir "$dest/layer" && tar -C "$dest/layer" -xzf "$work/layer.tar.gz" && sync -f "$dest/layer"
  else
    mkdir "$dest/layer" && tar -C "$dest/layer" --zstd -xf "$work/layer.tar.zst" && sync -f "$dest/layer"
  fi
  end=$(date +%s%N)
  echo $((end - start))
}

: >"$work/times"
for compression in gz zst; do
  ns_for keel "$compression" 0 >/dev/null # warm-up: page cache
  ns_for tar "$compression" 0 >/dev/null
  for round in $(seq "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then order="keel tar"; else order="tar keel"; fi
    for kind in $order; do
      echo "$kind-$compression $(ns_for "$kind" "$compression" "$round")" >>"$work/times"
    done
  done
done
# Both unpacked the same tree.
rm -rf "$work/out" && mkdir "$work/out" && "$unpack" "$work/layer.tar.zst" "$work/out" layer
diff -r "$tree" "$work/out/layer" >/dev/null || { echo "keel's unpacked tree differs from the original" >&2; exit 1; }

median() { grep "^$1 " "$work/times" | awk '{print $2}' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "layer_unpack: $rounds rounds, $files files, $((size / 1024)) KiB of tar"
for compression in gz zst; do
  awk -v k="$(median keel-$compression)" -v t="$(median tar-$compression)" -v c="$compression" -v s="$size" 'BEGIN {
    printf "  %-4s keel unpack_layer: %7.1f ms (%.0f MB/s of tar)\n", c, k / 1e6, s / (k / 1e9) / 1e6
    printf "  %-4s tar -x + sync:     %7.1f ms (%.0f MB/s of tar)\n", c, t / 1e6, s / (t / 1e9) / 1e6
    printf "  %-4s tar / keel:        %.2fx\n", c, t / k
  }'
done
