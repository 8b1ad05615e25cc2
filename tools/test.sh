#!/usr/bin/env bash
# Quick start, part two: the whole test suite. Installs what it needs, builds
# every preset, then runs: formatting check, fuzz smoke run, unit tests under
# ASan+UBSan, and unit, host-namespace and QEMU boot tests on the shipped build.
# CI runs exactly this (.ci/run).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
step() { printf '\n== %s\n' "$*"; }

step "setup"
tools/setup.sh

step "format"
tools/format.sh --check

step "build: default (glibc, static)"
cmake --preset default >/dev/null
cmake --build --preset default

step "build: debug (ASan + UBSan)"
cmake --preset debug >/dev/null
cmake --build --preset debug --target keel_unit_tests

step "fuzz smoke run"
tests/fuzz/smoke.sh

step "unit tests under ASan + UBSan"
ctest --preset debug -L unit -j2 --output-on-failure

step "unit, host and QEMU tests"
ctest --preset default -j2 --output-on-failure
