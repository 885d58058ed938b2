#!/bin/sh
# check_cxx.sh - the public header from other languages' points of view:
# tests/cxx_smoke.cpp built as C++11 and C++20 (pedantic, warnings as errors),
# linked with $BUILD/libcoro.a and run; and coro.h alone compiled as C99 and
# C11 with -pedantic. Run by tests/run.sh with BUILD, CC, CXX and SAN_FLAGS in
# the environment; exits non-zero on the first failure.
set -eu

: "${BUILD:?}" "${CC:=cc}" "${CXX:=c++}"
# A clang-built library gets clang's C++ driver: the sanitizer runtimes of
# gcc and clang do not mix.
case "$CC" in
*clang*) case "$CXX" in *g++) CXX=$(echo "$CC" | sed 's/clang/clang++/') ;; esac ;;
esac
SAN=${SAN_FLAGS:-}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for std in c++11 c++20; do
    echo "$CXX -std=$std: tests/cxx_smoke.cpp"
    # shellcheck disable=SC2086
    $CXX -std=$std -Wall -Wextra -Werror -pedantic $SAN -Iinclude tests/cxx_smoke.cpp \
        "$BUILD/libcoro.a" -pthread ${CORO_LIBS:-} -o "$tmp/cxx_smoke_$std"
    out=$("$tmp/cxx_smoke_$std")
    [ "$out" = "cxx ok" ] || {
        echo "cxx_smoke ($std) printed: $out"
        exit 1
    }
done

printf '#include "coro.h"\nint coro_header_only_(void);\nint coro_header_only_(void) { return CORO_OK; }\n' \
    > "$tmp/header.c"
for std in c99 c11; do
    echo "$CC -std=$std: coro.h alone"
    $CC -std=$std -pedantic -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
        -Wundef -Iinclude -c "$tmp/header.c" -o "$tmp/header_$std.o"
done
echo "check_cxx: ok"
