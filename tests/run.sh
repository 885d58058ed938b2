#!/bin/sh
# run.sh - runs the whole suite and ends with "N passed, N failed".
# Called by `make test` with BUILD, EMU (qemu or valgrind wrapper, may be
# empty), CC, CXX, CROSS, SANITIZE and SAN_FLAGS (the sanitizer flags a
# program linked with the library needs) in the environment, and the test binaries' names
# as arguments. Counts every unit test, every example checked against
# examples/<name>.expected, the C++ header check and the install check.
set -u
passed=0
failed=0
failures=""

count() { # name status
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures="$failures $1"
    fi
}

if [ -n "$EMU" ]; then
    CORO_TEST_SLOW=1
    export CORO_TEST_SLOW
fi

for t in "$@"; do
    out=$($EMU "$BUILD/tests/$t" 2>&1)
    status=$?
    printf '%s\n' "$out"
    ok=$(printf '%s\n' "$out" | grep -c '^ok - ')
    bad=$(printf '%s\n' "$out" | grep -c '^FAIL - ')
    passed=$((passed + ok))
    failed=$((failed + bad))
    for n in $(printf '%s\n' "$out" | sed -n 's/^FAIL - //p'); do failures="$failures $t:$n"; done
    if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
        echo "FAIL - $t exited with status $status"
        count "$t" 1
    fi
done

# Every fuzz target's corpus, replayed by the plain driver (make fuzz
# explores under libFuzzer; here the corpus is a regression test).
for f in ${FUZZ:-}; do
    if out=$($EMU "$BUILD/fuzz/$f" "tests/fuzz/corpus/$f" 2>&1); then
        echo "ok - $f corpus: $(printf '%s\n' "$out" | tail -n 1)"
        count "$f" 0
    else
        printf '%s\n' "$out" | tail -20
        echo "FAIL - $f corpus"
        count "$f" 1
    fi
done

# The examples print what the seeds say (corrected for Lua 5.4).
for exp in examples/*.expected; do
    [ -e "$exp" ] || continue
    name=$(basename "$exp" .expected)
    if $EMU "$BUILD/examples/$name" > "$BUILD/examples/$name.out" 2>&1 &&
        cmp -s "$exp" "$BUILD/examples/$name.out"; then
        echo "ok - example $name"
        count "example-$name" 0
    else
        echo "FAIL - example $name: output differs from $exp"
        diff "$exp" "$BUILD/examples/$name.out" | head -20
        count "example-$name" 1
    fi
done

# Checks that need the host toolchain; skipped when cross-compiling.
if [ -z "$CROSS" ]; then
    for check in tests/check_*.sh; do
        [ -e "$check" ] || continue
        name=$(basename "$check" .sh)
        if log=$(BUILD="$BUILD" CC="$CC" CXX="$CXX" SANITIZE="${SANITIZE:-}" SAN_FLAGS="${SAN_FLAGS:-}" CORO_LIBS="${CORO_LIBS:-}" sh "$check" 2>&1); then
            echo "ok - $name"
            count "$name" 0
        else
            printf '%s\n' "$log" | tail -20
            echo "FAIL - $name"
            count "$name" 1
        fi
    done
fi

[ -z "$failures" ] || echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
