#!/bin/sh
# run.sh - `make fuzz`: runs each fuzz target under libFuzzer for FUZZ_TIME
# seconds, from its seed corpus (tests/fuzz/corpus/<target>/, read only)
# and what earlier runs found (DIR/corpus/<target>/, written), with the
# target's own libFuzzer flags from tests/fuzz/<target>.options. A crash,
# leak, timeout or sanitizer report stops that target, leaves the input in
# DIR/crash-* and fails the run. Called with DIR (the libFuzzer build),
# FUZZ_TIME and the targets' names.
set -u
dir=$1
shift
failed=0
for t in "$@"; do
    mkdir -p "$dir/corpus/$t" "tests/fuzz/corpus/$t"
    opts=$(cat "tests/fuzz/$t.options" 2>/dev/null || true)
    echo "==== $t: ${FUZZ_TIME}s $opts $FUZZ_ARGS"
    # shellcheck disable=SC2086 # flags, split on purpose
    if "$dir/$t" -max_total_time="$FUZZ_TIME" -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$dir/" $opts $FUZZ_ARGS \
        "$dir/corpus/$t" "tests/fuzz/corpus/$t" > "$dir/$t.log" 2>&1; then
        grep -E '^stat::number_of_executed_runs|^#[0-9]+.*DONE' "$dir/$t.log" | tail -n 2
        echo "ok - fuzz $t"
    else
        tail -n 40 "$dir/$t.log"
        echo "FAIL - fuzz $t (log: $dir/$t.log)"
        failed=$((failed + 1))
    fi
done
[ "$failed" -eq 0 ]
