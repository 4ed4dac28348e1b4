# sweep.gp: draws scripts/bench's sweep table (sweep.tsv) as four panels in one PNG.
#
# gnuplot -e "tsv='OUT/sweep.tsv'; png='OUT/sweep.png'; param='workers'; title='...'" sweep.gp
# Columns of sweep.tsv (first line the header): 1 the swept value,
# 2-4 GET / req/s, static req/s, ratio, 5-7 the same for GET /orders,
# 8-9 p99 ms of GET / and GET /orders, 10-11 PSS MiB after each, 12 errors.

# pngcairo draws smoother text; the libgd png terminal is the fallback.
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
	set terminal pngcairo size 1200,860 font "Sans,11" noenhanced
} else {
	set terminal png size 1200,860 noenhanced
}
set output png
set datafile separator "\t"
set grid
# Below each panel, where it cannot hide a line.
set key below horizontal
set xlabel param
set offsets 0.25, 0.25, 0, 0
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 1.2
set style line 2 lc rgb "#d62728" lw 2 pt 5 ps 1.2
set style line 3 lc rgb "#1f77b4" lw 1.5 dt 2 pt 6 ps 1.2
set style line 4 lc rgb "#d62728" lw 1.5 dt 2 pt 4 ps 1.2

set multiplot layout 2,2 title title font ",13"

# The swept values sit at equal steps, labelled with their values.
set title "Requests/s (log scale) and the static ceiling"
set logscale y
set ylabel "requests/s"
set format y "%.0s%c"
plot tsv using 0:2:xtic(1) with linespoints ls 1 title "GET /", \
     ""  using 0:5:xtic(1) with linespoints ls 2 title "GET /orders", \
     ""  using 0:3:xtic(1) with linespoints ls 3 title "GET / static", \
     ""  using 0:6:xtic(1) with linespoints ls 4 title "GET /orders static"
unset logscale y
set format y "%g"

set title "Share of the static ceiling (req/s / static req/s)"
set ylabel "ratio"
set yrange [0:*]
plot tsv using 0:4:xtic(1) with linespoints ls 1 title "GET /", \
     ""  using 0:7:xtic(1) with linespoints ls 2 title "GET /orders"

set title "p99 latency"
set ylabel "ms"
plot tsv using 0:8:xtic(1) with linespoints ls 1 title "GET /", \
     ""  using 0:9:xtic(1) with linespoints ls 2 title "GET /orders"

set title "Memory: PSS sum of lighttpd and the responders"
set ylabel "MiB"
plot tsv using 0:10:xtic(1) with linespoints ls 1 title "after GET /", \
     ""  using 0:11:xtic(1) with linespoints ls 2 title "after GET /orders"

unset multiplot
