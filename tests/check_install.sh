#!/bin/sh
# check_install.sh - `make install` works and a user can build against what
# it installs. Stages an install (DESTDIR=<tmp> PREFIX=/usr) of the $BUILD
# configuration, builds tests/consumer.c with the flags pkg-config gives for
# the staged coro.pc, once against libcoro.a and once against libcoro.so,
# and runs both. Also checks that the shared library exports only coro_*
# symbols and that its soname links are in place. Run by tests/run.sh with
# BUILD, CC, SANITIZE and SAN_FLAGS in the environment; exits non-zero on a failure.
set -eu

: "${BUILD:?}" "${CC:=cc}"
SAN=${SAN_FLAGS:-}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/stage
expected="1 2 3 done"

fail() {
    echo "check_install: $*"
    exit 1
}

# Under `make test`, MAKEFLAGS carries the parent's command-line variables
# (BACKEND, OPT, ...), so nothing is rebuilt with other options.
make --no-print-directory install DESTDIR="$stage" PREFIX=/usr BUILD="$BUILD" CC="$CC" \
    SANITIZE="${SANITIZE:-}" > "$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log"
    fail "make install failed"
}

lib=$stage/usr/lib
for f in usr/include/coro.h usr/lib/libcoro.a usr/lib/libcoro.so.0.1.0 \
    usr/lib/pkgconfig/coro.pc; do
    [ -f "$stage/$f" ] || fail "not installed: /$f"
done
[ "$(readlink "$lib/libcoro.so.0")" = libcoro.so.0.1.0 ] || fail "libcoro.so.0 link missing"
[ "$(readlink "$lib/libcoro.so")" = libcoro.so.0 ] || fail "libcoro.so link missing"
readelf -d "$lib/libcoro.so.0.1.0" | grep -q 'SONAME.*\[libcoro\.so\.0\]' ||
    fail "soname is not libcoro.so.0"

# Only the public API is exported; coro__* internals are hidden.
extra=$(nm -D --defined-only "$lib/libcoro.so.0.1.0" | awk '{ print $NF }' | grep -v '^coro_' |
    grep -v '^coro__' || true)
internal=$(nm -D --defined-only "$lib/libcoro.so.0.1.0" | awk '{ print $NF }' |
    grep '^coro__' || true)
[ -z "$extra$internal" ] || fail "libcoro.so exports more than coro_*: $extra $internal"
nm -D --defined-only "$lib/libcoro.so.0.1.0" | grep -q ' T coro_resume$' ||
    fail "libcoro.so does not export coro_resume"

# pkg-config sees the staged install first, with paths inside the stage,
# and the system's own files after it (coro.pc may require liburing's).
system_pc=$(pkg-config --variable pc_path pkg-config 2> /dev/null || true)
PKG_CONFIG_SYSROOT_DIR=$stage
PKG_CONFIG_LIBDIR=$lib/pkgconfig${system_pc:+:$system_pc}
PKG_CONFIG_PATH=$lib/pkgconfig
PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
export PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR PKG_CONFIG_PATH PKG_CONFIG_ALLOW_SYSTEM_CFLAGS \
    PKG_CONFIG_ALLOW_SYSTEM_LIBS
pkg-config --exists coro || fail "pkg-config does not find coro"
[ "$(pkg-config --modversion coro)" = 0.1.0 ] || fail "coro.pc version: $(pkg-config --modversion coro)"
cflags=$(pkg-config --cflags coro)
libs=$(pkg-config --libs coro)
slibs=$(pkg-config --static --libs coro)
case "$cflags" in *"$stage/usr/include"*) ;; *) fail "pkg-config --cflags gives '$cflags'" ;; esac

# Static: -Bstatic makes the linker take libcoro.a although libcoro.so is
# beside it.
# shellcheck disable=SC2086
$CC -std=c99 -Wall -Wextra -Werror $SAN $cflags tests/consumer.c -Wl,-Bstatic $slibs \
    -Wl,-Bdynamic -o "$tmp/consumer_static"
if readelf -d "$tmp/consumer_static" | grep -q 'NEEDED.*libcoro'; then
    fail "the static consumer needs libcoro.so"
fi
out=$("$tmp/consumer_static") || fail "the static consumer failed: $out"
[ "$out" = "$expected" ] || fail "the static consumer printed '$out', not '$expected'"
echo "static: $out"

# Shared: found through the soname link, run with LD_LIBRARY_PATH.
# shellcheck disable=SC2086
$CC -std=c99 -Wall -Wextra -Werror $SAN $cflags tests/consumer.c $libs -o "$tmp/consumer_shared"
readelf -d "$tmp/consumer_shared" | grep -q 'NEEDED.*\[libcoro\.so\.0\]' ||
    fail "the shared consumer does not need libcoro.so.0"
out=$(LD_LIBRARY_PATH=$lib "$tmp/consumer_shared") || fail "the shared consumer failed: $out"
[ "$out" = "$expected" ] || fail "the shared consumer printed '$out', not '$expected'"
echo "shared: $out"
echo "check_install: ok"
