#!/bin/sh
# check_gdb.sh - a backtrace taken inside a coroutine crosses its frames and
# ends cleanly at the coroutine's entry trampoline (the switch's CFI marks
# the return address undefined there), with no "corrupt stack" or "Backtrace
# stopped" complaint from gdb. Run by tests/run.sh with BUILD, CC, BACKEND
# and SAN_FLAGS.
set -eu
if ! command -v gdb >/dev/null 2>&1; then
    echo "gdb not installed: skipped"
    exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
san=${SAN_FLAGS:-}
$CC -std=c99 -O0 -g $san -Iinclude tests/gdb_target.c "$BUILD/libcoro.a" -pthread ${CORO_LIBS:-} -o "$dir/t"
gdb -q -batch -ex 'set debuginfod enabled off' -ex 'break leaf' -ex run -ex bt "$dir/t" \
    > "$dir/bt" 2>&1 || true
cat "$dir/bt"
grep -q '^#[0-9].* nest (depth=3)' "$dir/bt"
case "${BACKEND:-asm}" in
ucontext) entry='.' ;; # libc's makecontext frames end it: no CFI of ours
*) entry='coro__ctx_entry' ;;
esac
tail -n 1 "$dir/bt" | grep -Eq "$entry"
! grep -Eq 'corrupt stack|Backtrace stopped' "$dir/bt"

# Inside the switch itself: a backtrace at every instruction of the first
# resume (onto a fresh coroutine) and of a yield back must still make sense: each frame is a known function and the chain ends
# at main or at the entry trampoline (the unwind rules follow the stack
# swap). libc's swapcontext has its own rules: asm backend only.
[ "${BACKEND:-asm}" = ucontext ] && exit 0
cat > "$dir/steps.gdb" <<'GDB'
set debuginfod enabled off
set pagination off
define steps
  set $i = 0
  while $i < 60
    stepi
    bt
    set $i = $i + 1
  end
end
break coro_resume
break coro_yield
run
steps
continue
steps
GDB
gdb -q -batch -x "$dir/steps.gdb" "$dir/t" > "$dir/steps" 2>&1 || true
n=$(grep -c '^#0 ' "$dir/steps" || true)
echo "backtraces inside the switch: $n"
[ "$n" -ge 100 ]
! grep -Eq '\?\? \(\)|corrupt stack|Backtrace stopped' "$dir/steps"
