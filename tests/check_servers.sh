#!/bin/sh
# check_servers.sh - the example servers start with one command and serve:
# echo_server on a free port echoes lines over two connections at once
# (bash's /dev/tcp is the client); the HTTP and Redis servers answer their
# clients (wrk, redis-cli, redis-benchmark) and stand hostile ones
# (tests/server_probes.py: malformed requests, integer overflows, bodies,
# clients that pipeline without reading, trickle or go quiet, more clients
# than fds). Run by tests/run.sh with BUILD.
set -eu
if ! command -v bash >/dev/null 2>&1; then
    echo "bash not installed: skipped"
    exit 0
fi
dir=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
python=$(command -v python3 || true)
[ -n "$python" ] || echo "python3 not installed: the hostile-client probes are skipped"

# start server [args]: starts it on a free port; sets pid and port. With
# $timeouts set, the server gets it as SERVER_TIMEOUTS_MS (short deadlines);
# with $loops, as SERVER_LOOPS (loops, one per thread); with $fds, that fd
# limit.
start() {
    rm -f "$dir/$1.out" # not the last run's "listening" line
    (
        [ -z "${fds:-}" ] || ulimit -n "$fds"
        if [ -n "${timeouts:-}" ]; then
            SERVER_TIMEOUTS_MS=$timeouts
            export SERVER_TIMEOUTS_MS
        fi
        if [ -n "${loops:-}" ]; then
            SERVER_LOOPS=$loops
            export SERVER_LOOPS
        fi
        exec "$BUILD/examples/servers/$1" 0 ${2:-}
    ) > "$dir/$1.out" 2>&1 &
    pid=$!
    name=$1
    for _ in $(seq 50); do
        grep -qs listening "$dir/$1.out" && break
        sleep 0.1
    done
    port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/$1.out")
    [ -n "$port" ] || fail "did not start"
}

fail() { # what: says what went wrong with the running server, shows its output
    echo "$name: $1; its output:"
    cat "$dir/$name.out"
    exit 1
}

# Stops the server started last, which must still be serving and must have
# logged no sanitizer report (under TSan a report does not stop a process).
stop() {
    kill -0 $pid 2>/dev/null || fail "died"
    kill $pid
    wait $pid 2>/dev/null || true
    pid=
    ! grep -qE 'Sanitizer|runtime error' "$dir/$name.out" || fail "logged a sanitizer report"
}

probe() { # name: a group of tests/server_probes.py against the running server
    [ -n "$python" ] || return 0
    "$python" tests/server_probes.py "$1" "$port" "$pid" || fail "$1 failed"
}

# wrk_check threads conns: wrk against the running HTTP server for a second
# (when installed: .ci/run installs it), without errors.
wrk_check() {
    if command -v wrk >/dev/null 2>&1; then
        wrk -t"$1" -c"$2" -d1s "http://127.0.0.1:$port/" > "$dir/wrk" 2>&1
        cat "$dir/wrk"
        grep -q "requests in" "$dir/wrk"
        ! grep -Eq "Socket errors|Non-2xx" "$dir/wrk"
    else
        echo "wrk not installed: its run skipped"
    fi
}

# http_server with short deadlines (request 1 s, idle 3 s, write 1 s):
# trickling heads and bodies, idle connections and a client that never
# reads are cut.
http_deadlines() {
    timeouts="1000 3000 1000"
    start http_server README.md
    probe http_deadlines
    stop
    timeouts=
}

start echo_server
bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$port"' 4<>/dev/tcp/127.0.0.1/'"$port"'
    printf "first line\n" >&3
    printf "second line\n" >&4
    read -r a <&3
    read -r b <&4
    [ "$a" = "first line" ] && [ "$b" = "second line" ]
'
stop

# http_server: two keep-alive requests on one connection, then wrk for a
# second (when installed: .ci/run installs it) without errors.
start http_server README.md
bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$port"'
    printf "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\n" >&3
    read -r status1 <&3
    while read -r line <&3 && [ "$line" != $'"'"'\r'"'"' ]; do :; done
    read -r body <&3
    read -r status2 <&3
    case "$status1" in "HTTP/1.1 200 OK"*) ;; *) exit 1 ;; esac
    case "$status2" in "HTTP/1.1 404 Not Found"*) ;; *) exit 1 ;; esac
    [ "$body" = "Hello, World!" ]
'
# A POST is answered 405 and the connection kept; HTTP/1.0 without
# keep-alive is answered and closed; a request line of four words is
# answered 400 and closed.
bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$port"'
    printf "POST / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.0\r\n\r\n" >&3
    out=$(timeout 5 cat <&3)
    case "$out" in "HTTP/1.1 405 Method Not Allowed"*"HTTP/1.1 200 OK"*"Connection: close"*) ;; *) exit 1 ;; esac
'
bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$port"'
    printf "GET / HTTP/1.1 junk\r\n\r\n" >&3
    out=$(timeout 5 cat <&3)
    case "$out" in "HTTP/1.1 400 Bad Request"*) ;; *) exit 1 ;; esac
'
wrk_check 1 20
# Bodies by Content-Length, Transfer-Encoding refused, malformed framing.
probe http_bodies
stop

# Short deadlines; then with 64 fds: 80 trickling clients are cut at their
# deadline and a client behind them is served.
http_deadlines
fds=64
start http_server
probe http_fd_limit
stop
fds=

# redis_server: redis-cli's answers, and redis-benchmark (a few thousand
# requests, pipelined and not) without errors, when redis-tools is there.
start redis_server
if command -v redis-cli >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1; then
    [ "$(redis-cli -p "$port" ping)" = PONG ]
    [ "$(redis-cli -p "$port" set k v)" = OK ]
    [ "$(redis-cli -p "$port" get k)" = v ]
    [ "$(redis-cli -p "$port" incr n)" = 1 ]
    [ "$(redis-cli -p "$port" expire n 100)" = 1 ]
    [ "$(redis-cli -p "$port" del k n)" = 2 ]
    for p in 1 16; do
        redis-benchmark -p "$port" -t ping,set,get -n 3000 -P $p -q > "$dir/bench" 2>&1
        tr '\r' '\n' < "$dir/bench" | grep "requests per second" | sort -u
        [ "$(tr '\r' '\n' < "$dir/bench" | grep -c ': [0-9.]* requests per second')" -eq 4 ]
        ! grep -qi "error" "$dir/bench"
    done
else
    echo "redis-tools not installed: redis-cli and redis-benchmark runs skipped"
fi
# Malformed commands, integer arguments at and past their limits, and the
# bound on pending answers.
probe redis_protocol
probe redis_integers
probe redis_output_bound
stop

# redis_server with short deadlines (request 1 s, idle 3 s, write 1 s).
timeouts="1000 3000 1000"
start redis_server
probe redis_deadlines
stop
timeouts=

# redis_server busy polling for 20 us between requests: the same answers.
start redis_server 20
if command -v redis-benchmark >/dev/null 2>&1; then
    [ "$(redis-cli -p "$port" ping)" = PONG ]
    redis-benchmark -p "$port" -t ping,set,get -n 3000 -q > "$dir/bench" 2>&1
    [ "$(tr '\r' '\n' < "$dir/bench" | grep -c ': [0-9.]* requests per second')" -eq 4 ]
    ! grep -qi "error" "$dir/bench"
fi
stop

# Every server on two loops (SERVER_LOOPS=2, one thread each, connections
# spread by SO_REUSEPORT): the same answers to the same clients, hostile
# ones included. A bad SERVER_LOOPS is refused at start.
loops=2
start echo_server
bash -c '
    for i in 1 2 3 4 5 6; do
        exec 3<>/dev/tcp/127.0.0.1/'"$port"'
        printf "line $i\n" >&3
        read -r a <&3
        [ "$a" = "line $i" ] || exit 1
        exec 3<&-
    done
'
stop
start http_server README.md
wrk_check 2 40
probe http_bodies
stop
http_deadlines
start redis_server
if command -v redis-benchmark >/dev/null 2>&1; then
    [ "$(redis-cli -p "$port" set k v)" = OK ]
    [ "$(redis-cli -p "$port" get k)" = v ]
    redis-benchmark -p "$port" -t set,get,incr -n 5000 -c 20 -q > "$dir/bench" 2>&1
    [ "$(tr '\r' '\n' < "$dir/bench" | grep -c ': [0-9.]* requests per second')" -eq 3 ]
    ! grep -qi "error" "$dir/bench"
fi
probe redis_protocol
probe redis_integers
stop
for bad in 0 -1 1025 2x cpu ""; do
    if SERVER_LOOPS=$bad "$BUILD/examples/servers/echo_server" 0 > "$dir/bad" 2>&1; then
        echo "echo_server: SERVER_LOOPS=\"$bad\" was accepted"
        exit 1
    fi
    grep -q "SERVER_LOOPS" "$dir/bad" || { cat "$dir/bad"; exit 1; }
done
loops=
