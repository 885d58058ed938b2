#!/bin/sh
# check_readme.sh - the README's C examples compile warning-free and print
# what the README says they print: the ten-line coroutine example, and the
# runtime's worker example (jobs 0-9, each once). Run by tests/run.sh with
# BUILD, CC and SAN_FLAGS.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
san=${SAN_FLAGS:-}

block() { # n: the README's n-th ```c block
    awk -v n="$1" '/^```c$/ { k++; on = (k == n); next } /^```$/ { on = 0 } on' README.md
}

build() { # n name
    block "$1" > "$dir/$2.c"
    $CC -std=c99 -Wall -Wextra -Werror $san -Iinclude "$dir/$2.c" "$BUILD/libcoro.a" \
        -pthread ${CORO_LIBS:-} -o "$dir/$2"
}

build 1 first
"$dir/first" > "$dir/out"
printf 'got 1, status suspended\ngot 2, status suspended\ngot 3, status suspended\n' > "$dir/want"
cmp "$dir/want" "$dir/out"

build 2 runtime
"$dir/runtime" | sort -n -k 2 > "$dir/out"
for i in 0 1 2 3 4 5 6 7 8 9; do echo "job $i"; done > "$dir/want"
cmp "$dir/want" "$dir/out"
