#!/bin/sh
# check_layers.sh - the library's layers include downwards only: src/core
# (coroutines) nothing of src/runtime or src/io, src/runtime (loops and
# tasks) nothing of src/io. Every "..." include of every source is resolved
# to the layer whose folder holds that header. Also: every source is in a
# layer. Run by tests/run.sh (also with ROOT=<tree> to check another tree).
set -eu
cd "${ROOT:-.}"

rank() {
    case $1 in
    core) echo 0 ;;
    runtime) echo 1 ;;
    io) echo 2 ;;
    *) echo 9 ;;
    esac
}

bad=0
for f in src/*; do
    [ -d "$f" ] && continue
    echo "check_layers: $f is in no layer (src/core, src/runtime, src/io)"
    bad=1
done
for f in $(find src -type f \( -name '*.c' -o -name '*.h' -o -name '*.S' \) | sort); do
    layer=$(echo "$f" | cut -d/ -f2)
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        base=$(basename "$inc")
        for l in core runtime io; do
            [ -e "src/$l/$base" ] || continue
            if [ "$(rank "$l")" -gt "$(rank "$layer")" ]; then
                echo "check_layers: $f ($layer) includes $inc, of the $l layer above it"
                bad=1
            fi
        done
    done
done
[ "$bad" -eq 0 ] && echo "check_layers: core <- runtime <- io, every include downwards"
exit "$bad"
