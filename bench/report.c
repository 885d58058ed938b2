/*
 * report.c - what the suite prints and writes: the table (Markdown, so
 * bench/README.md can show it as printed), the goals of the coroutines and
 * of the runtime checked against the figures, the JSON of every figure, and
 * the data gnuplot draws the chart from (bench/chart.gp).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "coro.h"
#include "driver.h"

/* ---- Markdown tables with aligned columns ---- */

#define MAX_COLS 7
#define MAX_TROWS 40
#define CELL 112

typedef struct table {
    int ncols, nrows;
    const char *align; /* 'l' or 'r' per column */
    char cell[MAX_TROWS][MAX_COLS][CELL];
} table;

static table tb;

static void cell(int r, int c, const char *fmt, ...) CORO_PRINTF(3, 4);
static void cell(int r, int c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tb.cell[r][c], CELL, fmt, ap);
    va_end(ap);
}

/* Display width: UTF-8 continuation bytes take no column. */
static int width(const char *s)
{
    int w = 0;

    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void print_table(FILE *f)
{
    int w[MAX_COLS] = {0};

    for (int r = 0; r < tb.nrows; r++)
        for (int c = 0; c < tb.ncols; c++)
            if (width(tb.cell[r][c]) > w[c])
                w[c] = width(tb.cell[r][c]);
    for (int r = 0; r < tb.nrows; r++) {
        for (int c = 0; c < tb.ncols; c++) {
            int pad = w[c] - width(tb.cell[r][c]);
            if (tb.align[c] == 'r')
                fprintf(f, "| %*s%s ", pad, "", tb.cell[r][c]);
            else
                fprintf(f, "| %s%*s ", tb.cell[r][c], pad, "");
        }
        fprintf(f, "|\n");
        if (r == 0) {
            for (int c = 0; c < tb.ncols; c++) {
                fputs(tb.align[c] == 'r' ? "|-" : "|:", f);
                for (int k = 0; k < w[c]; k++)
                    fputc('-', f);
                fputs(tb.align[c] == 'r' ? ":" : "-", f);
            }
            fprintf(f, "|\n");
        }
    }
    fprintf(f, "\n");
}

/* ---- number formats ---- */

static const char *ns_text(double v, char *buf)
{
    if (isnan(v))
        return "n/a";
    snprintf(buf, 32, v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v);
    return buf;
}

static const char *count_text(double v, char *buf)
{
    if (isnan(v))
        return "n/a";
    if (fabs(v) < 0.005)
        return "0";
    if (fabs(v - round(v)) < 0.05) /* exact, as counts of a fixed path are */
        snprintf(buf, 32, "%.0f", v);
    else
        snprintf(buf, 32, fabs(v) < 10 ? "%.2f" : "%.1f", v);
    return buf;
}

/* 1234567 -> "1,234,567" */
static const char *thousands(long v, char *buf)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%ld", v), k = 0;

    for (int i = 0; i < n; i++) {
        buf[k++] = tmp[i];
        if (tmp[i] != '-' && (n - 1 - i) % 3 == 0 && i != n - 1)
            buf[k++] = ',';
    }
    buf[k] = '\0';
    return buf;
}

/* ---- goals: goals.c, a part of this file kept apart for its size (it
 * uses this file's helpers; the Makefile knows it is a dependency) ---- */

#include "goals.c"

/* ---- the table ---- */

static void figure_table(FILE *f, const row *rows, int nrows, int fig)
{
    char a[32], b[32], c[32];
    int r = 1;

    tb.ncols = 6;
    tb.align = "lrrrrr";
    cell(0, 0, "%s", figures[fig].title);
    cell(0, 1, "ns/op");
    cell(0, 2, "min-max");
    cell(0, 3, "coro ÷ this (min-max)");
    cell(0, 4, "instr/op");
    cell(0, 5, "syscalls/op");
    for (int i = 0; i < nrows && r < MAX_TROWS; i++) {
        const row *x = &rows[i];
        if (x->fig != fig)
            continue;
        snprintf(tb.cell[r][0], CELL, x->subject ? "**%s**" : "%s", x->label);
        if (x->na != NULL) {
            cell(r, 1, "n/a");
            cell(r, 2, "%s", x->na);
            for (int k = 3; k < 6; k++)
                cell(r, k, "%s", "");
        } else {
            cell(r, 1, "%s", ns_text(x->med, a));
            cell(r, 2, "%s-%s", ns_text(x->lo, b), ns_text(x->hi, c));
            if (x->subject)
                cell(r, 3, "1");
            else if (isnan(x->rmed))
                cell(r, 3, "n/a");
            else
                cell(r, 3, "%.2fx (%.2f-%.2f)", x->rmed, x->rlo, x->rhi);
            cell(r, 4, "%s", count_text(x->instr, a));
            cell(r, 5, "%s", count_text(x->sys, b));
        }
        r++;
    }
    tb.nrows = r;
    print_table(f);
}

/* Figure (3), coroutines, or with tasks (11), tasks parked in a receive. */
static void memory_table(FILE *f, const config *cf, const mem_row *mem, int nmem, int tasks)
{
    char a[32], b[32];
    int r = 1, stopped = 0;
    const char *what = tasks ? "task" : "coroutine";

    tb.ncols = 5;
    tb.align = "lrrrl";
    cell(0, 0, "%s",
         tasks ? "(11) memory per task parked in a channel receive"
               : "(3) memory per suspended coroutine");
    cell(0, 1, "asked");
    cell(0, 2, "reached");
    cell(0, 3, "resident B per %s", what);
    cell(0, 4, "note");
    for (int i = 0; i < nmem && r < MAX_TROWS; i++) {
        const mem_row *m = &mem[i];
        if (!(m->flags & BENCH_MEM_TASK) != !tasks)
            continue;
        r++;
        cell(r - 1, 0, "%s", m->label);
        cell(r - 1, 1, "%s", thousands(m->asked, a));
        if (isnan(m->per)) {
            cell(r - 1, 2, "n/a");
            cell(r - 1, 3, "n/a");
            cell(r - 1, 4, "%s", m->note ? m->note : "");
            continue;
        }
        cell(r - 1, 2, "%s", thousands(m->reached, b));
        cell(r - 1, 3, "%.0f", m->per);
        if (m->src != SRC_CORO)
            cell(r - 1, 4, "%s", "");
        else if (m->err == 0)
            cell(r - 1, 4, "%.2f page + %.0f B heap", (m->per - m->heap) / (double)cf->page,
                 m->heap);
        else if (m->err == BENCH_MEMORY_CAP)
            cell(r - 1, 4, "%.2f page + %.0f B heap; stopped at half the available memory",
                 (m->per - m->heap) / (double)cf->page, m->heap);
        else {
            cell(r - 1, 4, "%.2f page + %.0f B heap; stopped by %s (vm.max_map_count = %ld)",
                 (m->per - m->heap) / (double)cf->page, m->heap, coro_errname(m->err),
                 cf->max_map_count);
            stopped = m->err;
        }
    }
    tb.nrows = r;
    print_table(f);
    fprintf(f,
            "Resident bytes one more %s costs: the growth of the resident set "
            "(/proc/self/statm) from half the count (at most 8,192) to the end, over the %ss "
            "created in between.%s\n",
            what, what,
            tasks ? " Each coro task is spawned detached and parks in a receive on one unbuffered "
                    "channel that nobody sends on, as each goroutine of Go's rows does (the same "
                    "measure as Go's rows of (3), which counts from half the count)."
                  : "");
    if (stopped != 0)
        fprintf(f, "%s, coro's error at the limit: \"%s\"\n", coro_errname(stopped),
                coro_strerror(stopped));
    fprintf(f, "\n");
}

static void goal_table(FILE *f, const goal *g, int n, goal_part part)
{
    int r = 1;

    tb.ncols = 4;
    tb.align = "lrrl";
    cell(0, 0, "goal (%s)", part_name[part]);
    cell(0, 1, "target");
    cell(0, 2, "measured");
    cell(0, 3, "met");
    for (int i = 0; i < n && r < MAX_TROWS; i++) {
        if (g[i].part != part)
            continue;
        cell(r, 0, "%s", g[i].what);
        cell(r, 1, "%s", g[i].target);
        cell(r, 2, "%s", g[i].measured);
        cell(r, 3, "%s", g[i].met < 0 ? "n/a" : g[i].met ? "yes" : "**no**");
        if (g[i].met == 0)
            snprintf(tb.cell[r][3] + strlen(tb.cell[r][3]), CELL - strlen(tb.cell[r][3]),
                     ", missed %s", g[i].by);
        r++;
    }
    tb.nrows = r;
    print_table(f);
}

static void versions(const config *cf, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int s = 0; s < NSOURCES; s++)
        if (cf->version[s] != NULL)
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     cf->version[s]);
}

void report_table(FILE *out, const config *cf, row *rows, int nrows, mem_row *mem, int nmem)
{
    goal g[NGOALS];
    int ng = goals(cf, rows, nrows, mem, nmem, g);
    char v[256], pinned[32] = "not pinned";

    versions(cf, v, sizeof v);
    if (cf->cpu >= 0)
        snprintf(pinned, sizeof pinned, "pinned to CPU %d", cf->cpu);
    fprintf(out,
            "coro %s benchmark, %s, %s; %s; %d interleaved rounds.\n"
            "ns/op: median over the rounds, min-max. coro ÷ this: coro's sample over this "
            "row's in the same round, median (min-max); below 1 means coro is faster.\n",
            CORO_VERSION, cf->date, cf->machine, pinned, cf->rounds);
    if (cf->counts)
        fprintf(out,
                "instr/op: %s, (count(N2) - count(N1)) / (N2 - N1), N1 = %ld, N2 = %ld "
                "(coro's fresh stack: %ld); syscalls/op: strace -c, the same way.\n",
                cf->counter ? cf->counter : "no counter found", COUNT_N1, COUNT_N2, COUNT_N2_SLOW);
    else
        fprintf(out, "instr/op, syscalls/op: not counted (-n).\n");
    fprintf(out, "Peers: %s.\n\n", v[0] ? v : "none");
    for (int f = 0; f < NFIGS; f++) {
        figure_table(out, rows, nrows, f);
        if (f == FIG_LIFECYCLE)
            memory_table(out, cf, mem, nmem, 0);
    }
    memory_table(out, cf, mem, nmem, 1);
    goal_table(out, g, ng, PART_COROUTINES);
    goal_table(out, g, ng, PART_RUNTIME);
    fflush(out);
}

/* ---- JSON ---- */

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s != NULL && *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void jnum(FILE *f, double v)
{
    if (isnan(v))
        fputs("null", f);
    else
        fprintf(f, "%.6g", v);
}

static void json_row(FILE *f, const row *x)
{
    fprintf(f, "        {\"label\": ");
    jstr(f, x->label);
    fprintf(f, ", \"key\": ");
    jstr(f, x->key);
    fprintf(f, ", \"subject\": %s, \"na\": ", x->subject ? "true" : "false");
    if (x->na)
        jstr(f, x->na);
    else
        fputs("null", f);
    fprintf(f, ", \"n\": %ld,\n         \"median_ns\": ", x->n);
    jnum(f, x->med);
    fprintf(f, ", \"min_ns\": ");
    jnum(f, x->lo);
    fprintf(f, ", \"max_ns\": ");
    jnum(f, x->hi);
    fprintf(f, ", \"coro_ratio_median\": ");
    jnum(f, x->rmed);
    fprintf(f, ", \"coro_ratio_min\": ");
    jnum(f, x->rlo);
    fprintf(f, ", \"coro_ratio_max\": ");
    jnum(f, x->rhi);
    fprintf(f, ",\n         \"instructions\": ");
    jnum(f, x->instr);
    fprintf(f, ", \"syscalls\": ");
    jnum(f, x->sys);
    fprintf(f, ", \"samples_ns\": [");
    for (int k = 0; k < x->nsamples; k++) {
        fputs(k ? ", " : "", f);
        jnum(f, x->ns[k]);
    }
    fprintf(f, "]}");
}

int report_json(const config *cf, row *rows, int nrows, mem_row *mem, int nmem)
{
    FILE *f = fopen(cf->json, "w");
    goal g[NGOALS];
    int ng = goals(cf, rows, nrows, mem, nmem, g);
    static const char *const src[NSOURCES] = {"coro", "floor", "boost",  "pcl",
                                              "coro", "lua",   "luajit", "go"};

    if (f == NULL) {
        perror(cf->json);
        return 1;
    }
    fprintf(f, "{\n  \"coro_version\": \"%s\",\n  \"date\": ", CORO_VERSION);
    jstr(f, cf->date);
    fprintf(f, ",\n  \"machine\": ");
    jstr(f, cf->machine);
    fprintf(f, ",\n  \"cpu\": %d,\n  \"rounds\": %d,\n  \"target_ms\": %g,\n", cf->cpu, cf->rounds,
            cf->target_ms);
    fprintf(f,
            "  \"method\": {\"pinned\": true, \"slices\": %d, \"count_loops\": [%ld, %ld], "
            "\"syscall_counter\": \"strace -c\", \"memory\": \"marginal resident bytes from "
            "min(n/2, 8192) to n\"},\n",
            SLICES, COUNT_N1, COUNT_N2);
    fprintf(f, "  \"instruction_counter\": ");
    jstr(f, cf->counter);
    fprintf(f, ",\n  \"versions\": {");
    for (int s = 0, k = 0; s < NSOURCES; s++)
        if (cf->version[s] != NULL) {
            fprintf(f, "%s\"%s\": ", k++ ? ", " : "", src[s]);
            jstr(f, cf->version[s]);
        }
    fprintf(f, "},\n  \"figures\": [\n");
    for (int fi = 0; fi < NFIGS; fi++) {
        int k = 0;
        fprintf(f, "    {\"key\": \"%s\", \"title\": ", figures[fi].key);
        jstr(f, figures[fi].title);
        fprintf(f, ", \"rows\": [\n");
        for (int i = 0; i < nrows; i++)
            if (rows[i].fig == fi) {
                fputs(k++ ? ",\n" : "", f);
                json_row(f, &rows[i]);
            }
        fprintf(f, "\n    ]}%s\n", fi + 1 < NFIGS ? "," : "");
    }
    fprintf(f, "  ],\n  \"memory\": {\"max_map_count\": %ld, \"page\": %ld, \"rows\": [\n",
            cf->max_map_count, cf->page);
    for (int i = 0; i < nmem; i++) {
        fprintf(f, "    {\"label\": ");
        jstr(f, mem[i].label);
        fprintf(f,
                ", \"task\": %s, \"flags\": %u, \"asked\": %ld, \"reached\": %ld, "
                "\"bytes_per_coroutine\": ",
                mem[i].flags & BENCH_MEM_TASK ? "true" : "false", mem[i].flags & ~BENCH_MEM_TASK,
                mem[i].asked, mem[i].reached);
        jnum(f, mem[i].per);
        fprintf(f, ", \"heap_per_coroutine\": ");
        jnum(f, mem[i].heap);
        fprintf(f, ", \"error\": ");
        if (mem[i].err == BENCH_MEMORY_CAP)
            jstr(f, "memory cap");
        else if (mem[i].err)
            jstr(f, coro_errname(mem[i].err));
        else
            fputs("null", f);
        fprintf(f, "}%s\n", i + 1 < nmem ? "," : "");
    }
    fprintf(f, "  ]},\n  \"goals\": [\n");
    for (int i = 0; i < ng; i++) {
        fprintf(f, "    {\"part\": \"%s\", \"goal\": ", part_name[g[i].part]);
        jstr(f, g[i].what);
        fprintf(f, ", \"target\": ");
        jstr(f, g[i].target);
        fprintf(f, ", \"measured\": ");
        jstr(f, g[i].measured);
        fprintf(f, ", \"met\": %s}%s\n",
                g[i].met < 0 ? "null"
                : g[i].met   ? "true"
                             : "false",
                i + 1 < ng ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) != 0;
}

/* ---- gnuplot's data: one block per panel, two blank lines apart ---- */

static int is_coro(source s)
{
    return s == SRC_CORO || s == SRC_SELF;
}

/* Whether row i belongs in panel p (below NFIGS: the figures; NFIGS:
 * instructions per round trip). */
static int in_panel(const row *r, int p)
{
    if (r->na != NULL)
        return 0;
    return p < NFIGS ? r->fig == p : r->fig == FIG_ROUNDTRIP && !isnan(r->instr);
}

int report_dat(const config *cf, row *rows, int nrows, mem_row *mem, int nmem)
{
    FILE *f = fopen(cf->dat, "w");
    char t[32];
    int k;

    if (f == NULL) {
        perror(cf->dat);
        return 1;
    }
    fprintf(f, "# coro benchmark, %s, %s\n", cf->date, cf->machine);
    fprintf(f, "# Blocks, two blank lines apart: the figures (label median min max coro),\n"
               "# instructions per round trip, memory of coroutines and of tasks (label\n"
               "# value coro). coro is 1 on coro's rows; rows are listed bottom-up. An\n"
               "# empty block would merge with the next, so it holds one \"none\" line.\n");
    for (int p = 0; p <= NFIGS; p++) {
        fprintf(f, "# %s\n", p < NFIGS ? figures[p].key : "instructions per round trip");
        k = 0;
        for (int i = nrows - 1; i >= 0; i--) {
            const row *r = &rows[i];
            if (!in_panel(r, p))
                continue;
            k++;
            if (p < NFIGS)
                fprintf(f, "\"%s\" %g %g %g %d\n", r->label, r->med, r->lo, r->hi, is_coro(r->src));
            else
                fprintf(f, "\"%s\" %g %d\n", r->label, r->instr, is_coro(r->src));
        }
        fprintf(f, "%s\n\n", k ? "" : "\"none\" NaN NaN NaN 0\n");
    }
    for (int tasks = 0; tasks < 2; tasks++) {
        fprintf(f, "%s# resident bytes per %s, 100,000 asked\n", tasks ? "\n\n" : "",
                tasks ? "task parked in a receive" : "suspended coroutine");
        k = 0;
        for (int i = nmem - 1; i >= 0; i--) {
            const mem_row *m = &mem[i];
            if (isnan(m->per) || m->asked != 100000 || !(m->flags & BENCH_MEM_TASK) != !tasks)
                continue;
            k++;
            fprintf(f, "\"%s (%s)\" %g %d\n", m->label, thousands(m->reached, t), m->per,
                    is_coro(m->src));
        }
        if (k == 0)
            fprintf(f, "\"none\" NaN 0\n");
    }
    return fclose(f) != 0;
}
