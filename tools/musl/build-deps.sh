#!/usr/bin/env bash
# Builds keel's third-party libraries for x86_64-linux-musl with Zig, from the
# Debian source packages of the versions installed here, into
#   ${XDG_CACHE_HOME:-~/.cache}/keel/musl-deps-<key>/{include,lib}
# The key hashes the installed versions, the Zig version and this recipe, so a
# change to any of them builds a fresh prefix and a warm run is a no-op.
#
#   tools/musl/build-deps.sh                 build (or reuse) the prefix
#   tools/musl/build-deps.sh --print-paths   print "<prefix>;<zigcc dir>" only
#                                            (cmake/musl-toolchain.cmake asks)
#
# All objects are compiled -fPIC so keel can link as a static PIE.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/env.sh"

[ "${1:-}" = --print-paths ] || "$here/setup.sh" # installs the packages we key on

# "srcpkg=version" of each installed package: what we build, and the key.
installed=$(dpkg-query -W -f='${source:Package}=${source:Version}\n' "${KEEL_MUSL_DEP_PKGS[@]}")
key=$( { echo "$installed"; echo "zig=$KEEL_ZIG_VERSION"; cat "$here/env.sh" "${BASH_SOURCE[0]}"; } \
       | sha256sum | cut -c1-16)
prefix=$KEEL_CACHE/musl-deps-$key

if [ "${1:-}" = --print-paths ]; then echo "$prefix;$KEEL_ZIG_BIN"; exit 0; fi
if [ -f "$prefix/.complete" ]; then
  echo "musl deps: up to date in $prefix" >&2
  exit 0
fi

mkdir -p "$KEEL_CACHE"
exec 9>"$KEEL_CACHE/musl-deps.lock"
flock 9 # a concurrent run builds the same prefix: wait for it
[ -f "$prefix/.complete" ] && exit 0

export PATH=$KEEL_ZIG_BIN:$PATH
export CC=zigcc CXX=zigcxx AR=/usr/bin/ar RANLIB=/usr/bin/ranlib
export CFLAGS="-O2 -fPIC" CXXFLAGS="-O2 -fPIC"
jobs=$(nproc)

srcdir=$KEEL_CACHE/debian-src # downloaded .dsc and tarballs, kept across keys
work=$KEEL_CACHE/musl-build-$key
stage=$prefix.partial # renamed to $prefix only when everything built
rm -rf "$work" "$stage"
mkdir -p "$srcdir" "$work/logs" "$stage/include" "$stage/lib"

# The source versions to try, best first: the installed one if apt's lists
# have it, then the other Debian revisions of the same upstream version,
# newest first (a point or security release replaced it; headers and ABI are
# the same). More than one, because a listed version can still be missing
# from the mirror (a security update's source seen 404 on a fresh machine).
source_versions() { # srcpkg installed-version
  local avail
  avail=$(apt-cache showsrc "$1" | awk -v p="$1" '/^Package: / { on = ($2 == p) } on && /^Version: / { print $2 }')
  { grep -xF "$2" <<<"$avail"
    awk -v u="${2%-*}-" -v v="$2" 'index($0, u) == 1 && $0 != v' <<<"$avail" | sort -Vru; } | grep . \
    || { echo "musl deps: no source for $1 ${2%-*} in apt's deb-src lists" >&2; return 1; }
}

fetch() { # srcpkg: downloads (once) and unpacks into $work/$srcpkg
  local want ver versions dsc=
  want=$(grep "^$1=" <<<"$installed")
  versions=$(source_versions "$1" "${want#*=}") || return 1
  local as_root=()
  [ "$(id -u)" -ne 0 ] || as_root=(-o APT::Sandbox::User=root) # _apt can't write our cache
  for ver in $versions; do
    dsc=$srcdir/${1}_${ver#*:}.dsc # file names drop the epoch
    [ -f "$dsc" ] && break
    (cd "$srcdir" && apt-get source -qq --only-source --download-only "${as_root[@]}" "$1=$ver") \
      && [ -f "$dsc" ] && break
    echo "musl deps: $1=$ver could not be downloaded; trying the next revision" >&2
    dsc=
  done
  [ -n "$dsc" ] || { echo "musl deps: no source of $1 could be downloaded (tried: $(echo $versions))" >&2; return 1; }
  dpkg-source -q -x "$dsc" "$work/$1" >/dev/null || return 1
  echo "$1=$ver" >>"$stage/VERSIONS"
}

build() { # name function: runs one library's recipe, output to a log
  local t0=$SECONDS log=$work/logs/$1.log rc
  echo "musl deps: building $1" >&2
  # Not under `if`/`||`: that would switch off errexit inside the recipe.
  set +e
  (set -ex; cd "$work" && "$2") >"$log" 2>&1
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "musl deps: $1 failed, full log: $log" >&2
    exit 1
  fi
  echo "musl deps: $1 done in $((SECONDS - t0)) s" >&2
}

autotools_host=(--host=x86_64-linux-musl --prefix="$stage" --enable-static --disable-shared)

libseccomp() {
  fetch libseccomp; cd libseccomp
  ./configure "${autotools_host[@]}"
  make -j"$jobs" -C src libseccomp.la
  make -C src install-libLTLIBRARIES
  make -C include install
}

libcap() {
  fetch libcap2; cd libcap2
  # BUILD_CC compiles the host-side generator of cap_names.h.
  make -C libcap CC=zigcc BUILD_CC=gcc AR="$AR" RANLIB="$RANLIB" SHARED=no libcap.a
  install -Dm644 libcap/libcap.a "$stage/lib/libcap.a"
  install -Dm644 libcap/include/sys/capability.h "$stage/include/sys/capability.h"
}

mbedtls() {
  fetch mbedtls; cd mbedtls
  # Debian enables extra options (threading, CMAC, ...) in config.h at build
  # time; take its installed header so both builds see the same configuration.
  cp /usr/include/mbedtls/config.h include/mbedtls/config.h
  make -j"$jobs" -C library CC=zigcc AR="$AR" libmbedtls.a libmbedx509.a libmbedcrypto.a
  cp library/libmbed{tls,x509,crypto}.a "$stage/lib/"
  cp -r include/mbedtls include/psa "$stage/include/"
}

protobuf() {
  fetch protobuf; cd protobuf
  # Compiler checks don't link: a link would build yet another libc++ variant.
  # Only the lite runtime: protoc stays Debian's /usr/bin/protoc.
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=zigcc -DCMAKE_CXX_COMPILER=zigcxx \
    -DCMAKE_AR="$AR" -DCMAKE_RANLIB="$RANLIB" -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY \
    -Dprotobuf_BUILD_TESTS=OFF -Dprotobuf_BUILD_PROTOC_BINARIES=OFF \
    -Dprotobuf_BUILD_SHARED_LIBS=OFF -Dprotobuf_WITH_ZLIB=OFF
  ninja -C build -j"$jobs" libprotobuf-lite
  cp build/libprotobuf-lite.a "$stage/lib/"
  (cd src && find google \( -name '*.h' -o -name '*.inc' -o -name '*.proto' \) -print0 \
     | xargs -0 cp --parents -t "$stage/include")
}

zlib() {
  fetch zlib; cd zlib
  ./configure --static --prefix="$stage"
  make -j"$jobs" libz.a
  cp libz.a "$stage/lib/" && cp zlib.h zconf.h "$stage/include/"
}

xz() {
  fetch xz-utils; cd xz-utils
  ./configure "${autotools_host[@]}" --disable-xz --disable-xzdec --disable-lzmadec \
    --disable-lzmainfo --disable-lzma-links --disable-scripts --disable-doc --disable-nls
  make -j"$jobs" -C src/liblzma
  make -C src/liblzma install
}

zstd() {
  fetch libzstd; cd libzstd
  # keel only reads current .zst files: no legacy format decoders.
  make -j"$jobs" -C lib CC=zigcc AR="$AR" ZSTD_LEGACY_SUPPORT=0 libzstd.a
  make -C lib PREFIX="$stage" install-static install-includes
}

lmdb() {
  fetch lmdb; cd lmdb/libraries/liblmdb
  make -j"$jobs" CC=zigcc AR="$AR" XCFLAGS="-fPIC" liblmdb.a
  cp liblmdb.a "$stage/lib/" && cp lmdb.h "$stage/include/"
}

nghttp2() {
  fetch nghttp2; cd nghttp2
  # The HTTP/2 library only: no applications, no OpenSSL, no libev.
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=zigcc \
    -DCMAKE_AR="$AR" -DCMAKE_RANLIB="$RANLIB" -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DENABLE_LIB_ONLY=ON -DENABLE_STATIC_LIB=ON -DENABLE_SHARED_LIB=OFF -DENABLE_DOC=OFF \
    -DCMAKE_INSTALL_PREFIX="$stage"
  ninja -C build -j"$jobs"
  cmake --install build
}

doctest() {
  fetch doctest; cd doctest
  # Header-only; installed here (with its CMake package) so the musl build
  # finds it without looking into the host's /usr. Nothing is compiled, so
  # the compiler checks need not link (a link = one more libc++ variant).
  cmake -S . -B build -G Ninja -DDOCTEST_WITH_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$stage" \
    -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY
  cmake --install build
}

warm_libcxx() {
  # Zig builds libc++/libunwind/musl on first use (~90 s) and caches them per
  # variant (optimization, debug info, PIE). Pay for the variant the musl
  # preset links (RelWithDebInfo, PIE) here, not in the first keel build.
  printf '#include <thread>\nint main() { std::thread([] {}).join(); }\n' >warm.cpp
  zigcxx -std=c++2b -O2 -g -fPIE -pie warm.cpp -o warm && ./warm
}

# Two lanes: autotools configure scripts are long and serial, so another
# library's compile fills the second core meanwhile.
t0=$SECONDS
(build libc++ warm_libcxx; build protobuf protobuf; build mbedtls mbedtls; build libcap libcap
 build lmdb lmdb) &
lane_a=$!
(build zlib zlib; build xz xz; build zstd zstd; build libseccomp libseccomp; build nghttp2 nghttp2
 build doctest doctest) &
lane_b=$!
failed=0
wait $lane_a || failed=1
wait $lane_b || failed=1
[ $failed -eq 0 ] || exit 1

# Libtool archives are useless here; .pc and CMake files must name the final path.
rm -f "$stage"/lib/*.la
grep -rlF --include="*.pc" --include="*.cmake" "$stage" "$stage/lib" | xargs -r sed -i "s|$stage|$prefix|g"

touch "$stage/.complete"
rm -rf "$prefix" && mv "$stage" "$prefix"
rm -rf "$work"
echo "musl deps: built in $((SECONDS - t0)) s into $prefix" >&2
