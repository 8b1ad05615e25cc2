#!/usr/bin/env bash
# Quick start, part two: the whole test suite. Installs what it needs, builds
# the demo, debug, fuzz and musl presets, then runs: formatting check, fuzz
# smoke run, unit tests under ASan+UBSan, host and QEMU boot tests on the
# shipped musl build, and the quick start's demo (part one), so that it
# stays true. CI runs exactly this (.ci/run).
#
# The glibc build here is the quick start's (the `demo` preset: -O1, no debug
# info), which the demo boots: building the `default` preset's -O2 -g as
# well would cost ~10 of CI's minutes for a build that differs only in
# optimisation. Each test runs once: the unit tests under ASan and UBSan,
# the host and QEMU tests on the shipped musl binary (the musl build here
# is keel and what those tests use; its unit tests, another ~6 minutes of
# compiling on two cores, are built and run by hand: `cmake --build --preset
# musl && ctest --preset musl -L unit`), except spawn_process's, which also
# run there, without ASan; the glibc binary is exercised end
# to end by the demo, libc++ by the fuzz targets and the musl binary.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
step() { printf '\n== %s (%s, %d s in)\n' "$*" "$(date +%T)" "$SECONDS"; }

step "setup"
tools/setup.sh
# The musl toolchain and deb-src entries now, not in the background build
# below: the fuzz build's configure fetches Debian's protobuf source too.
tools/musl/setup.sh

# The musl dependencies (about a quarter of a fresh machine's run; nothing
# once cached in ~/.cache/keel) build in the background meanwhile: their
# downloads and serial configure scripts leave a core idle that the
# glibc, debug and fuzz builds fill. Killed with the suite if it stops early.
mkdir -p build
deps_log=build/musl-deps.log
setsid tools/musl/build-deps.sh >"$deps_log" 2>&1 &
deps_pid=$!
trap 'kill -- -"$deps_pid" 2>/dev/null || true' EXIT
echo "musl dependencies: building in the background (log: $deps_log)"

step "format"
tools/format.sh --check

step "build: glibc, static (the demo preset: -O1, no debug info; keel, which the demo boots)"
cmake --preset demo >/dev/null
cmake --build --preset demo --target keel

step "build: debug (ASan + UBSan)"
cmake --preset debug >/dev/null
cmake --build --preset debug --target keel_unit_tests keel_raft_sim

step "fuzz smoke run"
tests/fuzz/smoke.sh

step "unit tests under ASan + UBSan"
# Every doctest case in one process (CTest's one process per case spent
# ~8 minutes here on ASan's start-up, the cases themselves ~1), then the
# Raft simulation.
build/debug/tests/keel_unit_tests
ctest --preset debug -R '^raft_simulation$' --output-on-failure

step "Ed25519 signing under valgrind: no branch or memory index on the secret"
if command -v valgrind >/dev/null && [ -e /usr/include/valgrind/memcheck.h ]; then
  cmake --build --preset demo --target keel_ed25519_secret_check
  ctest --preset demo -R '^ed25519_secret_check$' --output-on-failure
else
  echo "SKIP: no valgrind (tools/setup.sh all installs it)"
fi

step "build: musl (the shipped binary), once its dependencies are built"
if ! wait "$deps_pid"; then
  tail -n 40 "$deps_log" >&2
  echo "musl dependencies failed to build (log: $deps_log)" >&2
  exit 1
fi
trap - EXIT
grep -E '^musl deps: (.* done in|built in|up to date)' "$deps_log" || true
cmake --preset musl >/dev/null
cmake --build --preset musl --target keel_stripped keel_check_history keel_check_watches \
  keel_spawn_tests

step "spawn_process, host and QEMU tests on the musl build"
ctest --preset musl -L 'spawn|host|qemu' -j2 --output-on-failure

step "the quick start's demo (tools/demo.sh: the glibc build above, a keel disk in QEMU)"
tools/demo.sh
