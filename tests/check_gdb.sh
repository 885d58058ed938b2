#!/bin/sh
# check_gdb.sh - a backtrace taken inside a coroutine crosses its frames and
# ends cleanly at the coroutine's entry trampoline (the switch's CFI marks
# the return address undefined there), with no "corrupt stack" or "Backtrace
# stopped" complaint from gdb. Run by tests/run.sh with BUILD and CC.
set -eu
if ! command -v gdb >/dev/null 2>&1; then
    echo "gdb not installed: skipped"
    exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
san=""
case "$BUILD" in *-san*) san="-fsanitize=address,undefined" ;; esac
$CC -std=c99 -O0 -g $san -Iinclude tests/gdb_target.c "$BUILD/libcoro.a" -pthread -o "$dir/t"
gdb -q -batch -ex 'set debuginfod enabled off' -ex 'break leaf' -ex run -ex bt "$dir/t" \
    > "$dir/bt" 2>&1 || true
cat "$dir/bt"
grep -q '^#[0-9].* nest (depth=3)' "$dir/bt"
case "$BUILD" in
*ucontext*) entry='.' ;; # libc's makecontext frames end it: no CFI of ours
*) entry='coro__ctx_entry' ;;
esac
tail -n 1 "$dir/bt" | grep -Eq "$entry"
! grep -Eq 'corrupt stack|Backtrace stopped' "$dir/bt"
