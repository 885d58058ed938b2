#!/bin/sh
# bench/setup.sh - installs the benchmark's reference peers and tools from
# Debian's packages: Boost.Context, PCL, Lua 5.4, LuaJIT, Go, gnuplot, g++,
# the counters (perf, valgrind's callgrind, strace), and the libraries of
# nginx's binary (which the Makefile unpacks without installing nginx).
# Installs only what is missing (checked with dpkg-query), runs apt-get
# update at most once, and never fails the caller: a peer that could not be
# installed is reported "n/a" by the suite.
#
# Usage: sh bench/setup.sh   (as root, or with sudo available)

PKGS="libboost-context-dev libpcl1-dev lua5.4 luajit golang-go gnuplot-nox g++ linux-perf valgrind strace
      libuv1-dev wrk redis-tools redis-server liburing-dev
      libpcre2-8-0 libssl3 zlib1g libcrypt1"

missing=
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "bench/setup.sh: every peer is installed"
    exit 0
fi

if [ "$(id -u)" = 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
else
    echo "bench/setup.sh: not root and no sudo: cannot install$missing (they will show n/a)" >&2
    exit 0
fi

echo "bench/setup.sh: installing$missing"
$SUDO apt-get update -qq || echo "bench/setup.sh: apt-get update failed" >&2
# All at once is quicker, but fails whole if one package is unknown: then
# one by one.
# shellcheck disable=SC2086
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $missing; then
    for p in $missing; do
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "$p" || echo "bench/setup.sh: could not install $p (it will show n/a)" >&2
    done
fi
exit 0
