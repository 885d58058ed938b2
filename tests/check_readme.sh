#!/bin/sh
# check_readme.sh - the README's ten-line example compiles warning-free and
# prints what the README says it prints. Run by tests/run.sh with BUILD, CC.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed -n '/^```c$/,/^```$/p' README.md | sed '1d;$d' > "$dir/example.c"
san=""
[ -n "${SANITIZE:-}" ] && san="-fsanitize=address,undefined"
$CC -std=c99 -Wall -Wextra -Werror $san -Iinclude "$dir/example.c" "$BUILD/libcoro.a" \
    -pthread -o "$dir/example"
"$dir/example" > "$dir/out"
printf 'got 1, status suspended\ngot 2, status suspended\ngot 3, status suspended\n' > "$dir/want"
cmp "$dir/want" "$dir/out"
