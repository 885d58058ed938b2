# chart.gp - draws the benchmark's chart from the data the driver writes
# (coro-bench -d FILE): one panel per figure, horizontal bars at the median
# with min-max whiskers, coro's rows in red, a log scale so that equal ratios
# look equal.
#
#   gnuplot -e "data='build/gcc/bench/chart.dat'; out='bench/results/chart.png'" bench/chart.gp

if (!exists("data")) data = 'chart.dat'
if (!exists("out")) out = 'chart.png'

set terminal pngcairo size 1800,2000 font "sans,11" noenhanced
set output out

coro = 0xd62728
peer = 0x4c72b0
color(c) = c > 0.5 ? coro : peer
set style fill solid 0.85 noborder
set grid xtics mxtics lc rgb "#dddddd"
set logscale x
set ytics scale 0 font ",10"
set xtics font ",10"
set key off
set lmargin 38
set rmargin 6
unset colorbox

# Bars start at `base`, below the smallest value a panel shows.
h = 0.34

# The data file's first line: "# coro benchmark, DATE, MACHINE".
machine = system(sprintf("sed -n '1s/^# coro benchmark, //p' '%s'", data))
set multiplot layout 4,3 title sprintf("coro benchmark, %s\nmedian of interleaved rounds, whiskers min-max; log scales; red: coro", machine) font ",14"

# Blocks 0-8: the figures; 9: instructions; 10, 11: memory of coroutines
# and of tasks. The runtime's (6)-(11), each inside coro_run.
nfig = 9
titles = "'(1) resume + yield round trip' '(2) create + run to end + destroy' '(4) wrap generator call' '(5) a value each way, checked' '(6) task spawn + run + finish' '(7) unbuffered channel ping-pong' '(8) buffered (64) channel ping-pong' '(9) select over 4 channels, one ready' '(10) sleep(1 µs), 1,000 tasks at once' 'instructions per round trip' '(3) resident bytes per suspended coroutine' '(11) resident bytes per parked task'"
# The coroutine goals that are absolute numbers, drawn as dashed lines.
goals = "0 30 0 0 0 0 0 0 0 65 0 0"
xlabels = "'ns per round trip' 'ns per coroutine' 'ns per call' 'ns per round trip' 'ns per task' 'ns per send + reply' 'ns per send + reply' 'ns per select' 'ns per sleep' 'instructions (callgrind or perf stat)' 'bytes (100,000 asked; reached in brackets)' 'bytes (100,000 asked; reached in brackets)'"
fmt(v) = v >= 1000 ? sprintf("%.0f", v) : sprintf("%.3g", v)

# Panels 0-8: label median min max coro; panels 9-11: label value coro.
do for [i=0:11] {
    set title word(titles, i + 1) font ",12"
    set xlabel word(xlabels, i + 1)
    set xrange [*:*]
    set yrange [*:*]
    undefine STATS_*
    stats data index i using 2 nooutput
    unset arrow 1
    unset label 2
    g = word(goals, i + 1) + 0
    if (g > 0) {
        set arrow 1 from g, graph 0 to g, graph 1 nohead back dt 2 lw 1.5 lc rgb "#222222"
        set label 2 sprintf("goal %g", g) at g, graph 1.02 center font ",9"
    }
    if (exists("STATS_records") && STATS_records > 0) {
        base = 10 ** floor(log10(STATS_min) - 0.3)
        set yrange [-0.6:STATS_records - 0.4]
        c = (i < nfig) ? 5 : 3
        if (i < nfig) {
            set xrange [base:STATS_max * 8]
            plot data index i using (sqrt(base * $2)):0:(base):2:($0 - h):($0 + h):(color(column(c))):ytic(1) \
                     with boxxyerror lc rgb variable, \
                 data index i using 2:0:3:4 with xerrorbars lc rgb "#333333" pt -1, \
                 data index i using ($4 * 1.12):0:(fmt($2)) with labels left font ",9"
        } else {
            set xrange [base:STATS_max * 4]
            plot data index i using (sqrt(base * $2)):0:(base):2:($0 - h):($0 + h):(color(column(c))):ytic(1) \
                     with boxxyerror lc rgb variable, \
                 data index i using ($2 * 1.12):0:(sprintf("%.0f", $2)) with labels left font ",9"
        }
    } else {
        set xrange [1:10]
        set yrange [0:1]
        set label 1 "not measured" at graph 0.5, 0.5 center
        plot NaN
        unset label 1
    }
}

unset multiplot
