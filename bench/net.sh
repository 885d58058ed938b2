#!/usr/bin/env bash
# bench/net.sh - the network and file benchmark: coro's example servers
# against the references, under real clients, in one run.
#
#   HTTP keep-alive "hello"  wrk -t1 at 50 and 500 connections: coro's
#                            http_server, the hand-written epoll server, libuv,
#                            Go's net/http (GOMAXPROCS=1)
#   TCP echo, 64 bytes       echo_load at 50 and 1000 connections: the same four
#   Redis protocol           redis-benchmark -t ping,set,get, with and without
#                            -P 16: coro's redis_server, plain and busy polling
#                            (-b US, default 20 us), against redis-server
#   4 KiB random file reads  fileread: io_uring, the thread pool, plain pread
#   HTTP on both CPUs        wrk -t2 at 500 connections, server and load
#                            sharing the two CPUs: coro's http_server on one
#                            loop and on two (SERVER_LOOPS=2), Go's net/http
#                            with GOMAXPROCS=2, nginx with 2 workers (Debian's
#                            binary, unpacked by the Makefile, never installed);
#                            the figure is the server's CPU time per request,
#                            against the one-loop server's
#
# Run by `make bench-net` (which builds everything first) with BUILD and
# RESULTS set. Options: -r ROUNDS (default 3), -d SECONDS per run (default 3),
# -s SERVER_CPU (default 1), -l LOAD_CPU (default 0), -n: no callgrind pass,
# -o LIST: only these parts (default "http echo redis file cores"), -T: no run,
# only the tables and the chart again from $RESULTS/net.json.
#
# How to read it. The server runs on one CPU, the load generator on another
# (taskset). On this kind of machine the load generator saturates its CPU
# before a fast C server fills its own, so requests/s is client-bound and
# swings between runs; the steady figures are per request, on the server:
#   cpu_us       server CPU time (perf's task-clock of the server process)
#   syscalls     system calls (perf's raw_syscalls:sys_enter tracepoint)
#   instr        instructions, user and kernel (perf's instructions counter),
#                where the machine has a PMU; otherwise "n/a" and ...
#   user_instr   ... user-space instructions from a separate callgrind run
#                (valgrind), its start-up cost subtracted; Go does not run
#                under valgrind and shows n/a.
# Servers run one at a time; the order rotates every round, and every figure
# is the median over the rounds. The ratios against the reference (epoll,
# redis-server) are the medians of per-round ratios: the two runs of a round
# are seconds apart, so the machine's slow and fast phases mostly cancel. The run writes $RESULTS/net.json (one JSON
# object per line), net.md (the tables) and, with gnuplot, net.png.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build/gcc}
RESULTS=${RESULTS:-bench/results}
ROUNDS=3 DUR=3 SCPU=1 LCPU=0 CALLGRIND=1 ONLY="http echo redis file cores" REDRAW= BUSY_US=20
while getopts "r:d:s:l:no:Tb:" o; do
    case $o in
        r) ROUNDS=$OPTARG ;;
        d) DUR=$OPTARG ;;
        s) SCPU=$OPTARG ;;
        l) LCPU=$OPTARG ;;
        n) CALLGRIND= ;;
        o) ONLY=$OPTARG ;;
        T) REDRAW=1 ;;
        b) BUSY_US=$OPTARG
           [[ $BUSY_US =~ ^[1-9][0-9]{0,5}$ ]] || { echo "bench/net.sh: -b: microseconds, 1 to 999999" >&2; exit 2; } ;;
        *) echo "usage: bench/net.sh [-r ROUNDS] [-d SECONDS] [-s SERVER_CPU] [-l LOAD_CPU] [-n]" \
                "[-o 'http echo redis file cores'] [-T] [-b BUSY_POLL_US]" >&2
           exit 2 ;;
    esac
done

NET=$BUILD/bench/net
EX=$BUILD/examples/servers
TMP=$(mktemp -d "${TMPDIR:-/tmp}/coro-net.XXXXXX")
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
mkdir -p "$RESULTS"
JSON=$RESULTS/net.json
[ -n "$REDRAW" ] || : > "$JSON"

have() { command -v "$1" > /dev/null 2>&1; }
note() { echo "bench/net.sh: $*" >&2; }

for tool in wrk taskset; do
    have $tool || { note "$tool is missing (make bench-net installs it)"; exit 1; }
done
PERF_EVENTS=
if have perf && perf stat -e task-clock,raw_syscalls:sys_enter -o /dev/null -- true 2> /dev/null; then
    PERF_EVENTS=task-clock,raw_syscalls:sys_enter
    if perf stat -x, -e instructions -- true 2>&1 | grep -q '^[0-9]'; then
        PERF_EVENTS=$PERF_EVENTS,instructions
    fi
else
    note "perf cannot count here: CPU time and system calls per request show n/a"
fi
have valgrind || CALLGRIND=

# The command line of server $1 (coro, epoll, uv, go) for protocol $2.
server_cmd() {
    case $1/$2 in
        coro/http) echo "$EX/http_server 0" ;;
        coro/echo) echo "$EX/echo_server 0" ;;
        coro/redis) echo "$EX/redis_server 0" ;;
        corobp/redis) echo "$EX/redis_server 0 $BUSY_US" ;; # busy polling
        epoll/*) echo "$NET/epoll_server $2 0" ;;
        uv/*) echo "$NET/uv_server $2 0" ;;
        go/*) echo "env GOMAXPROCS=1 $NET/go_server $2 0" ;;
        coro1/http) echo "env SERVER_LOOPS=1 $EX/http_server 0" ;;
        coro2/http) echo "env SERVER_LOOPS=2 $EX/http_server 0" ;;
        go2/http) echo "env GOMAXPROCS=2 $NET/go_server http 0" ;;
        nginx2/http) nginx_prepare && echo "sh $TMP/nginx/run.sh" ;;
    esac
}

NGINX=$BUILD/bench/nginx/usr/sbin/nginx

# nginx's configuration and start script under $TMP/nginx: 2 workers, no
# logs, keep-alive without a request limit, the C servers' body (nginx adds
# a Date header). nginx cannot report a port it chose, so a free one is
# picked here; the script prints the line start() waits for.
nginx_prepare() {
    local d=$TMP/nginx port
    mkdir -p "$d"
    for port in $(seq 20080 20380); do
        (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null || break
    done
    cat > "$d/nginx.conf" << EOF
worker_processes 2;
pid $d/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    server {
        listen 127.0.0.1:$port;
        location / { default_type text/plain; return 200 "Hello, World!\n"; }
    }
}
EOF
    printf '#!/bin/sh\necho "listening on 127.0.0.1:%s"\nexec "%s" -p "%s/" -c nginx.conf -e stderr -g "daemon off;"\n' \
        "$port" "$NGINX" "$d" > "$d/run.sh"
}

# The server's processes, comma-separated: $PID and its children (nginx's
# workers), for perf.
server_pids() {
    local pids=$PID f pid comm state ppid rest
    for f in /proc/[0-9]*/stat; do
        read -r pid comm state ppid rest < "$f" 2> /dev/null || continue
        [ "$ppid" = "$PID" ] && pids=$pids,$pid
    done
    echo "$pids"
}

# start WRAPPER... -- CMD...: starts the server on the server CPU; sets PID
# and PORT, or returns 1.
start() {
    local log=$TMP/server.log
    "$@" > "$log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$log" && break
        kill -0 $PID 2> /dev/null || break
        sleep 0.05
    done
    PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -1)
    [ -n "$PORT" ] || { note "server did not start: $*"; cat "$log" >&2; stop; return 1; }
}

stop() {
    [ -n "$PID" ] || return 0
    kill -TERM $PID 2> /dev/null
    for _ in $(seq 200); do
        kill -0 $PID 2> /dev/null || break
        # Under valgrind a loop asleep in io_uring_enter (receiving ahead)
        # gets the signal only once something wakes it: a connection does.
        [ -z "$PORT" ] || (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null || true
        sleep 0.05
    done
    kill -KILL $PID 2> /dev/null
    wait $PID 2> /dev/null
    PID=
}

# counted CMD...: runs the load CMD on the load CPU while perf counts the
# server; leaves perf's CSV in $TMP/perf.
counted() {
    if [ -n "$PERF_EVENTS" ]; then
        perf stat -x, -e "$PERF_EVENTS" -p "$(server_pids)" -o "$TMP/perf" -- taskset -c $LCPU "$@"
    else
        : > "$TMP/perf"
        taskset -c $LCPU "$@"
    fi
}
perf_value() { # event -> its count (task-clock in ms), or empty
    awk -F, -v e="$1" '$3 ~ "^"e { if ($1 ~ /^[0-9.]+$/) print $1 }' "$TMP/perf"
}

# load PROTO CONNS: one run against the server on $PORT; prints
# "ops errors cpu_ms syscalls instructions" (n/a where unknown).
load() {
    local out=$TMP/load ops errs
    case $1 in
        http)
            counted wrk -t1 -c"$2" -d"${DUR}s" "http://127.0.0.1:$PORT/" > "$out" 2>&1
            ops=$(awk '/requests in/ { print $1 }' "$out")
            errs=$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }
                        /Non-2xx/ { print $NF }' "$out" | awk '{ s += $1 } END { print s + 0 }')
            ;;
        echo)
            counted "$NET/echo_load" 127.0.0.1 "$PORT" "$2" "$DUR" 64 > "$out" 2>&1
            ops=$(awk '/^round_trips/ { print $2 }' "$out")
            errs=$(awk '/^round_trips/ { print $8 }' "$out")
            ;;
    esac
    [ -n "$ops" ] || { note "no result from the $1 load:"; cat "$out" >&2; ops=0 errs=1; }
    echo "$ops ${errs:-1} $(perf_value task-clock || true) $(perf_value raw_syscalls || true)" \
         "$(perf_value instructions || true)" | awk '{ for (i = NF + 1; i <= 5; i++) $i = "n/a"; print }'
}

median() { # numbers on stdin -> their median, or n/a
    sort -g | awk '/^[0-9.e+-]+$/ { v[n++] = $1 }
        END { if (n == 0) print "n/a"; else if (n % 2) print v[int(n / 2)];
              else print (v[n / 2 - 1] + v[n / 2]) / 2 }'
}
per() { # total ops -> total/ops with 3 significant digits, or n/a
    awk -v t="$1" -v n="$2" 'BEGIN { if (t == "n/a" || t == "" || n <= 0) print "n/a";
                                     else printf "%.4g\n", t / n }'
}

# callgrind PROTO SERVER CONNS: user-space instructions per request, start-up
# (a run that serves nothing) subtracted.
callgrind_instr() {
    local cmd ir0 ir1 ops
    [ -n "$CALLGRIND" ] && [ "$2" != go ] || { echo n/a; return; }
    cmd=$(server_cmd "$2" "$1")
    ir_of() {
        start taskset -c $SCPU valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            --log-file="$TMP/cg.log" $cmd || return 1
        if [ "$1" = load ]; then
            load "$proto" "$conns" > "$TMP/cg.ops"
        fi
        stop
        awk '/Collected :/ { print $NF }' "$TMP/cg.log"
    }
    local proto=$1 conns=$3
    ir0=$(ir_of idle) && ir1=$(ir_of load) || { echo n/a; return; }
    ops=$(awk '{ print $1 }' "$TMP/cg.ops")
    awk -v a="$ir0" -v b="$ir1" -v n="$ops" \
        'BEGIN { if (a == "" || b == "" || n <= 0) print "n/a"; else printf "%.0f\n", (b - a) / n }'
}

emit() { echo "$1" >> "$JSON"; }

# round_ratios FILE BASE ops|cpu: the median over the rounds of FILE's
# requests (or server CPU per request) over BASE's in the same round; n/a
# unless both hold a line for every round. Lines: "ops errors cpu_ms ...".
round_ratios() {
    [ -s "$1" ] && [ -s "$2" ] && [ "$(wc -l < "$1")" = "$(wc -l < "$2")" ] || { echo n/a; return; }
    paste -d' ' "$1" "$2" | awk -v what="$3" '{
        if (what == "ops" && $6 > 0) print $1 / $6
        else if (what == "cpu" && $1 > 0 && $6 > 0 && $3 != "n/a" && $8 != "n/a" && $8 > 0)
            print ($3 / $1) / ($8 / $6)
    }' | median
}

# The measurements: skipped by -T.
measure() {
# ---- HTTP and echo: four servers, rotated, medians over the rounds ----

SERVERS=(coro epoll)
for s in uv go; do
    if [ -x "$NET/${s}_server" ]; then SERVERS+=("$s"); else note "${s}_server not built: n/a"; fi
done

net_scenario() { # PROTO CONNS
    local proto=$1 conns=$2 r i s n=${#SERVERS[@]}
    note "$proto, $conns connections: ${SERVERS[*]}, $ROUNDS rounds of ${DUR}s"
    for ((r = 0; r < ROUNDS; r++)); do
        for ((i = 0; i < n; i++)); do
            s=${SERVERS[$(((i + r) % n))]}
            start taskset -c $SCPU $(server_cmd $s $proto) || continue
            # Warm up (connections, caches, Go's heap) before counting.
            if [ "$proto" = http ]; then
                taskset -c $LCPU wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$PORT/" > /dev/null 2>&1
            else
                taskset -c $LCPU "$NET/echo_load" 127.0.0.1 "$PORT" "$conns" 1 64 > /dev/null 2>&1
            fi
            load $proto "$conns" >> "$TMP/$proto.$conns.$s"
            stop
        done
    done
    for s in "${SERVERS[@]}"; do
        local f=$TMP/$proto.$conns.$s ops rps cpu sys ins uins errs vs_ops vs_cpu
        [ -s "$f" ] || continue
        # Per-round rates, then medians.
        rps=$(awk -v d="$DUR" '{ print $1 / d }' "$f" | median)
        # Against epoll round by round (the two ran seconds apart, so the
        # machine's slow and fast phases mostly cancel), then medians.
        vs_ops=$(round_ratios "$f" "$TMP/$proto.$conns.epoll" ops)
        vs_cpu=$(round_ratios "$f" "$TMP/$proto.$conns.epoll" cpu)
        cpu=$(awk '$3 != "n/a" && $1 > 0 { print $3 * 1000 / $1 }' "$f" | median)
        sys=$(awk '$4 != "n/a" && $1 > 0 { print $4 / $1 }' "$f" | median)
        ins=$(awk '$5 != "n/a" && $1 > 0 { print $5 / $1 }' "$f" | median)
        errs=$(awk '{ s += $2 } END { print s + 0 }' "$f")
        uins=$(callgrind_instr $proto $s "$conns")
        emit "$(printf '{"bench":"%s","conns":%d,"server":"%s","ops_per_s":%s,"ops_vs_epoll":%s,"cpu_us_per_op":%s,"cpu_vs_epoll":%s,"syscalls_per_op":%s,"instr_per_op":%s,"user_instr_per_op":%s,"errors":%d,"rounds":%d}' \
            $proto "$conns" $s "$(json $rps)" "$(json $vs_ops)" "$(json $cpu)" "$(json $vs_cpu)" "$(json $sys)" "$(json $ins)" "$(json $uins)" "$errs" $ROUNDS)"
    done
}
json() { [ "$1" = n/a ] || [ -z "$1" ] && echo null || printf '%.4g' "$1"; }

only() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
if only http; then
    net_scenario http 50
    net_scenario http 500
fi
if only echo; then
    net_scenario echo 50
    net_scenario echo 1000
fi

# ---- HTTP on both CPUs: one loop, two loops, Go with GOMAXPROCS=2 ----

if only cores; then
    CSERVERS=(coro1 coro2)
    [ -x "$NET/go_server" ] && CSERVERS+=(go2)
    [ -x "$NGINX" ] && CSERVERS+=(nginx2)
    note "http on CPUs $SCPU,$LCPU, 500 connections: ${CSERVERS[*]}, $ROUNDS rounds of ${DUR}s"
    for ((r = 0; r < ROUNDS; r++)); do
        for ((i = 0; i < ${#CSERVERS[@]}; i++)); do
            s=${CSERVERS[$(((i + r) % ${#CSERVERS[@]}))]}
            start taskset -c $SCPU,$LCPU $(server_cmd $s http) || continue
            taskset -c $SCPU,$LCPU wrk -t2 -c500 -d1s "http://127.0.0.1:$PORT/" > /dev/null 2>&1
            LCPU_SAVED=$LCPU LCPU=$SCPU,$LCPU
            out=$TMP/load
            counted wrk -t2 -c500 -d"${DUR}s" "http://127.0.0.1:$PORT/" > "$out" 2>&1
            LCPU=$LCPU_SAVED
            ops=$(awk '/requests in/ { print $1 }' "$out")
            errs=$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }
                        /Non-2xx/ { print $NF }' "$out" | awk '{ s += $1 } END { print s + 0 }')
            echo "${ops:-0} ${errs:-1} $(perf_value task-clock || true)" |
                awk '{ for (i = NF + 1; i <= 5; i++) $i = "n/a"; print }' >> "$TMP/cores.$s"
            stop
        done
    done
    for s in "${CSERVERS[@]}"; do
        f=$TMP/cores.$s
        [ -s "$f" ] || continue
        rps=$(awk -v d="$DUR" '{ print $1 / d }' "$f" | median)
        cpu=$(awk '$3 != "n/a" && $1 > 0 { print $3 * 1000 / $1 }' "$f" | median)
        vs_cpu=$(round_ratios "$f" "$TMP/cores.coro1" cpu)
        errs=$(awk '{ s += $2 } END { print s + 0 }' "$f")
        emit "$(printf '{"bench":"cores","conns":500,"server":"%s","ops_per_s":%s,"cpu_us_per_op":%s,"cpu_vs_coro1":%s,"errors":%d,"rounds":%d}' \
            $s "$(json $rps)" "$(json $cpu)" "$(json $vs_cpu)" "$errs" $ROUNDS)"
    done
fi

# ---- Redis: coro's redis_server against redis-server ----

# redis_ratios FILE BASE TEST: the median over the rounds of FILE's
# requests/s for TEST over BASE's in the same round (TEST CPU: server CPU
# per request instead); n/a unless both have it for every round.
redis_ratios() {
    [ -s "$1" ] && [ -s "$2" ] || { echo n/a; return; }
    awk -v t="$3" '
        FNR == 1 { f++ }
        $1 == t && t != "CPU" { v[f, ++k[f]] = $2 }
        $1 == t && t == "CPU" && $2 != "" && $3 > 0 { v[f, ++k[f]] = $2 / $3 }
        END { if (k[1] == 0 || k[1] != k[2]) exit
              for (i = 1; i <= k[1]; i++) if (v[2, i] > 0) print v[1, i] / v[2, i] }' "$1" "$2" |
        median
}

redis_run() { # SERVER PIPELINE -> lines "TEST rps" appended to $TMP/redis.SERVER.P
    local out=$TMP/rb n=$((100000 * (1 + ($2 > 1) * 9))) # about 2 s a test either way
    counted redis-benchmark -h 127.0.0.1 -p "$PORT" -t ping,set,get -n $n -c 50 \
        -P "$2" --csv > "$out" 2> "$TMP/rb.err"
    if grep -qi error "$out" "$TMP/rb.err"; then
        note "redis-benchmark reported errors against $1:"; cat "$out" "$TMP/rb.err" >&2
        echo "ERRORS 1" >> "$TMP/redis.$1.$2"
    fi
    awk -F'"' 'NR > 1 && $2 != "" { print $2, $4 }' "$out" >> "$TMP/redis.$1.$2"
    echo "CPU $(perf_value task-clock || true) $(awk -F'"' -v n=$n 'NR > 1 && $2 != "" { k++ } END { print k * n }' "$out")" \
        >> "$TMP/redis.$1.$2"
}
if ! only redis; then
    :
elif have redis-benchmark && have redis-server; then
    RPORT=$((20000 + $$ % 10000))
    note "redis: coro redis, $ROUNDS rounds, each order in turn"
    for ((r = 0; r < ROUNDS; r++)); do
        order="coro corobp redis"
        [ $((r % 3)) = 1 ] && order="corobp redis coro"
        [ $((r % 3)) = 2 ] && order="redis coro corobp"
        for s in $order; do
            for p in 1 16; do
                if [ $s != redis ]; then
                    start taskset -c $SCPU $(server_cmd $s redis) || continue
                else
                    taskset -c $SCPU redis-server --port $RPORT --bind 127.0.0.1 --save "" \
                        --appendonly no --daemonize no > "$TMP/redis-server.log" 2>&1 &
                    PID=$! PORT=$RPORT
                    for _ in $(seq 100); do
                        redis-cli -p $PORT ping > /dev/null 2>&1 && break
                        sleep 0.05
                    done
                fi
                # Warm up (connections, the store's keys) before counting.
                taskset -c $LCPU redis-benchmark -h 127.0.0.1 -p "$PORT" -t ping,set,get \
                    -n 20000 -c 50 -P "$p" -q > /dev/null 2>&1
                redis_run $s $p
                stop
            done
        done
    done
    for p in 1 16; do
        for s in coro corobp redis; do
            f=$TMP/redis.$s.$p
            [ -s "$f" ] || continue
            for t in $(awk '$1 != "CPU" && $1 != "ERRORS" { print $1 }' "$f" | sort -u); do
                rps=$(awk -v t="$t" '$1 == t { print $2 }' "$f" | median)
                vs=$(redis_ratios "$f" "$TMP/redis.redis.$p" "$t")
                emit "$(printf '{"bench":"redis","test":"%s","pipeline":%d,"server":"%s","ops_per_s":%s,"ops_vs_redis":%s,"rounds":%d}' \
                    "$t" $p $s "$(json $rps)" "$(json $vs)" $ROUNDS)"
            done
            cpu=$(awk '$1 == "CPU" && $2 != "" && $3 > 0 { print $2 * 1000 / $3 }' "$f" | median)
            vs=$(redis_ratios "$f" "$TMP/redis.redis.$p" CPU)
            errs=$(awk '$1 == "ERRORS" { n++ } END { print n + 0 }' "$f")
            emit "$(printf '{"bench":"redis","test":"all","pipeline":%d,"server":"%s","cpu_us_per_op":%s,"cpu_vs_redis":%s,"errors":%d,"rounds":%d}' \
                $p $s "$(json $cpu)" "$(json $vs)" "$errs" $ROUNDS)"
        done
    done
    emit "$(printf '{"bench":"redis-config","busy_poll_us":%d}' "$BUSY_US")"
else
    note "redis-benchmark or redis-server missing: the Redis rows are skipped"
fi

# ---- file reads ----

if only file && [ -x "$NET/fileread" ]; then
    note "fileread: 4 KiB random reads"
    taskset -c $SCPU "$NET/fileread" -r "$ROUNDS" -j | grep '^{' >> "$JSON"
fi

}
[ -n "$REDRAW" ] || measure

# ---- the tables and the chart ----

tables() {
    echo "| load | server | requests/s | vs epoll | server CPU µs/op | CPU/op vs epoll | syscalls/op | instr/op | user instr/op (callgrind) | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'[:,{}"]+' '
        function field(name,   i) { for (i = 2; i < NF; i++) if ($i == name) return $(i + 1); return "" }
        function x(v) { return (v == "" || v == "null") ? "n/a" : sprintf("%.2fx", v) }
        field("bench") == "http" || field("bench") == "echo" {
            key = field("bench") " " field("conns")
            if (field("server") == "epoll") { base[key] = field("ops_per_s"); cbase[key] = field("cpu_us_per_op") }
            k[++n] = key; rps[n] = field("ops_per_s"); cpu[n] = field("cpu_us_per_op")
            vo[n] = field("ops_vs_epoll"); vc[n] = field("cpu_vs_epoll")
            row[n] = sprintf("| %s %s conns | %s | %s | RATIO | %s | CRATIO | %s | %s | %s | %s |", field("bench"),
                field("conns"), field("server"), field("ops_per_s"), field("cpu_us_per_op"),
                field("syscalls_per_op"), field("instr_per_op"), field("user_instr_per_op"), field("errors"))
        }
        END {
            for (i = 1; i <= n; i++) {
                # per-round ratios where the run has them, else the medians ratio
                r = vo[i] != "" ? x(vo[i]) : (base[k[i]] > 0 && rps[i] != "null") ? x(rps[i] / base[k[i]]) : "n/a"
                c = vc[i] != "" ? x(vc[i]) : (cbase[k[i]] > 0 && cpu[i] != "null") ? x(cpu[i] / cbase[k[i]]) : "n/a"
                sub(/CRATIO/, c, row[i]); sub(/RATIO/, r, row[i]); gsub(/null/, "n/a", row[i]); print row[i]
            }
        }' "$JSON"
    echo
    echo "| redis-benchmark | pipeline | coro requests/s | coro, busy poll | redis-server requests/s | coro / redis-server | coro, busy poll / redis-server |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    awk -F'[:,{}"]+' '
        function field(name,   i) { for (i = 2; i < NF; i++) if ($i == name) return $(i + 1); return "" }
        field("bench") == "redis" && field("test") != "all" {
            key = field("test") " " field("pipeline")
            v[key, field("server")] = field("ops_per_s"); if (!(key in seen)) { seen[key]; order[++n] = key }
            vs[key, field("server")] = field("ops_vs_redis")
        }
        function ratio(q, c, r) {
            return (q != "" && q != "null") ? sprintf("%.2fx", q) : (r > 0 && c > 0) ? sprintf("%.2fx", c / r) : "n/a"
        }
        END {
            for (i = 1; i <= n; i++) {
                k = order[i]; split(k, kp, " "); c = v[k, "coro"]; b = v[k, "corobp"]; r = v[k, "redis"]
                printf "| %s | %s | %s | %s | %s | %s | %s |\n", kp[1], kp[2], c, b != "" ? b : "n/a", r,
                    ratio(vs[k, "coro"], c, r), ratio(vs[k, "corobp"], b, r)
            }
        }' "$JSON"
    echo
    echo "| redis-benchmark, all tests | pipeline | coro server CPU µs/op | coro, busy poll | redis-server CPU µs/op | coro / redis-server | coro, busy poll / redis-server |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    awk -F'[:,{}"]+' '
        function field(name,   i) { for (i = 2; i < NF; i++) if ($i == name) return $(i + 1); return "" }
        field("bench") == "redis" && field("test") == "all" {
            p = field("pipeline"); v[p, field("server")] = field("cpu_us_per_op")
            if (!(p in seen)) { seen[p]; order[++n] = p }
            vs[p, field("server")] = field("cpu_vs_redis")
        }
        function ratio(q, c, r) {
            return (q != "" && q != "null") ? sprintf("%.2fx", q) : (r > 0 && c > 0) ? sprintf("%.2fx", c / r) : "n/a"
        }
        END {
            for (i = 1; i <= n; i++) {
                p = order[i]; c = v[p, "coro"]; b = v[p, "corobp"]; r = v[p, "redis"]
                printf "| ping, set, get | %s | %s | %s | %s | %s | %s |\n", p, c, b != "" ? b : "n/a", r,
                    ratio(vs[p, "coro"], c, r), ratio(vs[p, "corobp"], b, r)
            }
        }' "$JSON"
    echo
    echo "| HTTP on both CPUs, 500 conns | requests/s | server CPU µs/op | CPU/op vs one loop | errors |"
    echo "|---|---:|---:|---:|---:|"
    awk -F'[:,{}"]+' '
        function field(name,   i) { for (i = 2; i < NF; i++) if ($i == name) return $(i + 1); return "" }
        field("bench") == "cores" {
            s = field("server")
            name = s == "coro1" ? "coro, 1 loop" : s == "coro2" ? "coro, 2 loops" : s == "nginx2" ? "nginx, 2 workers" : "Go, GOMAXPROCS=2"
            v = field("cpu_vs_coro1")
            printf "| %s | %s | %s | %s | %s |\n", name, field("ops_per_s"), field("cpu_us_per_op"),
                (v == "" || v == "null") ? "n/a" : sprintf("%.2fx", v), field("errors")
        }' "$JSON"
    echo
    echo "| 4 KiB random reads | tasks | ns/read | time vs pread |"
    echo "|---|---:|---:|---:|"
    awk -F'[:,{}"]+' '
        function field(name,   i) { for (i = 2; i < NF; i++) if ($i == name) return $(i + 1); return "" }
        field("bench") == "fileread" {
            printf "| %s | %s | %s | %s |\n", field("mode"), field("conc"), field("ns_per_read"),
                field("ratio_pread") != "null" ? field("ratio_pread") "x" : "n/a"
        }' "$JSON"
}
tables > "$RESULTS/net.md"
cat "$RESULTS/net.md"

if have gnuplot; then
    # One bar group per load: requests/s relative to the reference (epoll
    # for HTTP and echo, redis-server for Redis).
    awk -F'[:,{}"]+' '
        function field(name,   i) { for (i = 2; i < NF; i++) if ($i == name) return $(i + 1); return "" }
        (field("bench") == "http" || field("bench") == "echo") && field("ops_per_s") != "null" {
            key = field("bench") "-" field("conns"); v[key, field("server")] = field("ops_per_s")
            q[key, field("server")] = field("ops_vs_epoll")
            if (!(key in seen)) { seen[key]; order[++n] = key }
        }
        field("bench") == "redis" && field("test") != "all" && field("ops_per_s") != "null" {
            key = "redis-" tolower(field("test")) (field("pipeline") > 1 ? "-P" field("pipeline") : "")
            srv = field("server") == "redis" ? "epoll" : field("server")
            v[key, srv] = field("ops_per_s")
            if (srv != "epoll") q[key, srv] = field("ops_vs_redis")
            if (!(key in seen)) { seen[key]; order[++n] = key }
        }
        # per-round ratios where the run has them, else the medians ratio
        function rel(k, s, b) {
            if (q[k, s] != "" && q[k, s] != "null") return sprintf("%.3f", q[k, s])
            return v[k, s] > 0 ? sprintf("%.3f", v[k, s] / b) : "NaN"
        }
        END {
            print "# load coro reference libuv go coro-busy-poll"
            for (i = 1; i <= n; i++) {
                k = order[i]; b = v[k, "epoll"]; if (b <= 0) continue
                printf "%s %s %.3f %s %s %s\n", k, rel(k, "coro", b), 1, rel(k, "uv", b), rel(k, "go", b),
                    rel(k, "corobp", b)
            }
        }' "$JSON" > "$TMP/chart.dat"
    # And one per load of the server's CPU time per request, relative to
    # the reference's (Redis: all its tests together).
    awk -F'[:,{}"]+' '
        function field(name,   i) { for (i = 2; i < NF; i++) if ($i == name) return $(i + 1); return "" }
        function keep(key, srv, r) {
            if (r == "" || r == "null") r = "NaN"
            c[key, srv] = r
            if (!(key in seen)) { seen[key]; order[++n] = key }
        }
        field("bench") == "http" || field("bench") == "echo" {
            keep(field("bench") "-" field("conns"), field("server"), field("cpu_vs_epoll"))
        }
        field("bench") == "redis" && field("test") == "all" {
            keep("redis-P" field("pipeline"), field("server") == "redis" ? "epoll" : field("server"),
                 field("cpu_vs_redis"))
        }
        function get(k, s) { return (k, s) in c ? c[k, s] : "NaN" }
        END {
            print "# load coro reference libuv go coro-busy-poll"
            for (i = 1; i <= n; i++) {
                k = order[i]
                printf "%s %s %s %s %s %s\n", k, get(k, "coro"), get(k, "epoll"), get(k, "uv"),
                    get(k, "go"), get(k, "corobp")
            }
        }' "$JSON" > "$TMP/chart_cpu.dat"
    # The busy-poll time of the run drawn (-T: the one in the JSON).
    busy=$(grep -o '"busy_poll_us":[0-9]*' "$JSON" | head -1 | cut -d: -f2)
    gnuplot -e "data='$TMP/chart.dat'; cpu='$TMP/chart_cpu.dat'; out='$RESULTS/net.png'; busy='${busy:-$BUSY_US}'" \
        bench/net.gp || note "gnuplot failed: no chart"
fi
