#!/usr/bin/env bash
# Quick start, part two: the whole test suite. Installs what it needs, builds
# every preset, then runs: formatting check, fuzz smoke run, unit tests under
# ASan+UBSan, unit and host-namespace tests on the glibc build, unit, host
# and QEMU boot tests on the shipped musl build, and the quick start's demo
# (part one), so that it stays true. CI runs exactly this (.ci/run).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
step() { printf '\n== %s (%s, %d s in)\n' "$*" "$(date +%T)" "$SECONDS"; }

step "setup"
tools/setup.sh

step "format"
tools/format.sh --check

step "build: default (glibc, static)"
cmake --preset default >/dev/null
cmake --build --preset default

step "build: musl (the shipped binary; dependencies cached in ~/.cache/keel)"
tools/musl/build-deps.sh
cmake --preset musl >/dev/null
cmake --build --preset musl

step "build: debug (ASan + UBSan)"
cmake --preset debug >/dev/null
cmake --build --preset debug --target keel_unit_tests keel_raft_sim

step "fuzz smoke run"
tests/fuzz/smoke.sh

step "unit tests under ASan + UBSan"
ctest --preset debug -L unit -j2 --output-on-failure

step "unit and host tests on the glibc build (the KV's etcd clients run on the musl build)"
ctest --preset default -L 'unit|host' -LE kv -j2 --output-on-failure

step "unit, host and QEMU tests on the musl build"
ctest --preset musl -j2 --output-on-failure

step "the quick start's demo (tools/demo.sh: its own build, a keel disk in QEMU)"
tools/demo.sh
