#!/bin/sh
# check_servers.sh - the example servers start with one command and serve:
# echo_server on a free port echoes lines over two connections at once
# (bash's /dev/tcp is the client). Run by tests/run.sh with BUILD.
set -eu
if ! command -v bash >/dev/null 2>&1; then
    echo "bash not installed: skipped"
    exit 0
fi
dir=$(mktemp -d)
"$BUILD/examples/servers/echo_server" 0 > "$dir/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do
    grep -q listening "$dir/out" && break
    sleep 0.1
done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/out")
[ -n "$port" ]
bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$port"' 4<>/dev/tcp/127.0.0.1/'"$port"'
    printf "first line\n" >&3
    printf "second line\n" >&4
    read -r a <&3
    read -r b <&4
    [ "$a" = "first line" ] && [ "$b" = "second line" ]
'
kill -0 $pid # still serving
