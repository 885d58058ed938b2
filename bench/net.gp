# net.gp - draws the network benchmark's chart from the data bench/net.sh
# writes: for every load, each server's requests/s (above) and CPU time per
# request (below) relative to the reference (the hand-written epoll server
# for HTTP and echo, redis-server for Redis), medians of rotated rounds.
# 1 is the reference.
#
#   gnuplot -e "data='chart.dat'; cpu='chart_cpu.dat'; out='bench/results/net.png'; busy='20'" bench/net.gp

if (!exists("data")) data = 'chart.dat'
if (!exists("cpu")) cpu = 'chart_cpu.dat'
if (!exists("out")) out = 'net.png'
if (!exists("busy")) busy = '20'

set terminal pngcairo size 1400,1150 font "sans,11" noenhanced
set output out
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 noborder
set boxwidth 0.9
set grid ytics lc rgb "#dddddd"
set yrange [0:*]
set xtics rotate by -30 font ",10"
set key below horizontal
set multiplot layout 2,1
set title "coro's example servers: requests/s relative to the reference (epoll server; redis-server for Redis)\nserver and load generator pinned to separate CPUs; median of rotated rounds; higher is better" font ",13"
set ylabel "requests/s / reference's"
plot data using 2:xtic(1) title "coro" lc rgb "#d62728", \
     '' using 3 title "reference" lc rgb "#4c72b0", \
     '' using 4 title "libuv" lc rgb "#55a868", \
     '' using 5 title "Go net/http" lc rgb "#8172b2", \
     '' using 6 title "coro, busy polling ".busy." us (Redis)" lc rgb "#f4a582", \
     1 notitle dt 2 lc rgb "#333333"
set title "the servers' CPU time per request (kernel included) relative to the reference's; lower is better\n(Redis: its tests together, without and with -P 16)" font ",13"
set ylabel "CPU per request / reference's"
plot cpu using 2:xtic(1) title "coro" lc rgb "#d62728", \
     '' using 3 title "reference" lc rgb "#4c72b0", \
     '' using 4 title "libuv" lc rgb "#55a868", \
     '' using 5 title "Go net/http" lc rgb "#8172b2", \
     '' using 6 title "coro, busy polling ".busy." us (Redis)" lc rgb "#f4a582", \
     1 notitle dt 2 lc rgb "#333333"
unset multiplot
