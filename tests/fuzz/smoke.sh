#!/usr/bin/env bash
# Fuzz smoke run: builds the `fuzz` preset and runs every libFuzzer target for
# a bounded time, starting from its seed corpus in tests/fuzz/corpus/<target>/.
# Exits non-zero if any target crashes, leaks, times out or fails to build,
# naming the targets that failed and where their crashing inputs were saved.
#
# Environment:
#   KEEL_FUZZ_SECONDS  time per target (default 5: a smoke run of every target
#                      in the test suite; a real campaign is a longer run by
#                      hand, e.g. KEEL_FUZZ_SECONDS=600 for one target's
#                      corpus to grow)
#   KEEL_FUZZ_RUNS     input count per target, whichever limit comes first
#                      (default 5000000)
#   KEEL_JOBS          build parallelism, and how many targets run at once
#                      (default 2)
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${KEEL_FUZZ_SECONDS:-5}
runs=${KEEL_FUZZ_RUNS:-5000000}
jobs=${KEEL_JOBS:-2}
parallel=$jobs

cd "$source_dir"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"

build_dir="$source_dir/build/fuzz"
out_dir="$build_dir/smoke"
rm -rf "$out_dir"
mkdir -p "$out_dir"

# Each tests/fuzz/<name>_fuzz.cpp is one target (a stale binary of a removed
# target is not run; a source whose binary is missing fails).
targets=()
for source in "$source_dir"/tests/fuzz/*_fuzz.cpp; do
    [ -e "$source" ] && targets+=("$(basename "$source" .cpp)")
done
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz smoke: no fuzz targets in $source_dir/tests/fuzz" >&2
    exit 1
fi

# One target's run: its report line goes to stdout, a failure's details to
# stderr, and its verdict (ok or FAILED) to $out_dir/TARGET.verdict.
run_target() {
    local target=$1
    local work="$out_dir/$target"
    if [ ! -x "$build_dir/tests/fuzz/$target" ]; then
        echo "fuzz smoke: FAILED $target: not built (is it in tests/fuzz/CMakeLists.txt?)" >&2
        echo FAILED >"$out_dir/$target.verdict"
        return
    fi
    # New inputs go to a scratch corpus so the checked-in seeds stay small.
    mkdir -p "$work/corpus" "$work/artifacts"
    local seeds="$source_dir/tests/fuzz/corpus/$target"
    local corpora=("$work/corpus")
    [ -d "$seeds" ] && corpora+=("$seeds")
    local log="$work/fuzz.log"

    local status=0
    "$build_dir/tests/fuzz/$target" \
        -max_total_time="$seconds" -runs="$runs" \
        -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
        "${corpora[@]}" >"$log" 2>&1 || status=$?

    local runs_done rate coverage
    runs_done=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    if [ "$status" -ne 0 ]; then
        {
            echo "fuzz smoke: FAILED $target (exit $status); log: $log"
            grep -E 'ERROR|invariant failed|SUMMARY|Test unit written' "$log" | head -20 || true
        } >&2
        echo FAILED >"$out_dir/$target.verdict"
    else
        echo "fuzz smoke: ok $target (${seconds}s): ${runs_done:-?} runs, ${rate:-?} exec/s, ${coverage:-cov: ?}"
        echo ok >"$out_dir/$target.verdict"
    fi
}

# The targets run $parallel at a time: each is one single-threaded process.
running=0
for target in "${targets[@]}"; do
    if [ "$running" -ge "$parallel" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    run_target "$target" &
    running=$((running + 1))
done
wait

failed=()
for target in "${targets[@]}"; do
    [ "$(cat "$out_dir/$target.verdict" 2>/dev/null)" = ok ] || failed+=("$target")
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz smoke: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz smoke: all ${#targets[@]} targets passed"
