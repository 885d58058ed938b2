/*
 * goals.c - the goals of the coroutines and of the runtime, checked
 * against the figures of the run. Included by report.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coro.h"
#include "driver.h"

/* ---- goals ---- */

/* Which part of coro a goal is about: a table each, and "part" in the JSON. */
typedef enum goal_part { PART_COROUTINES, PART_RUNTIME, NPARTS } goal_part;

static const char *const part_name[NPARTS] = {"coroutines", "runtime"};

typedef struct goal {
    goal_part part;
    const char *what;
    char target[48];
    char measured[96];
    int met;     /* 1, 0, or -1 when it could not be measured */
    char by[32]; /* how much it is missed by */
} goal;

#define NGOALS 20

static const row *find(const row *rows, int nrows, int fig, const char *key)
{
    for (int i = 0; i < nrows; i++)
        if (rows[i].fig == fig && strcmp(rows[i].key, key) == 0)
            return rows[i].na == NULL ? &rows[i] : NULL;
    return NULL;
}

/* ops_rt.c's tasks: the memory row of the largest count reached, coro's
 * with these flags or Go's. */
static const mem_row *task_mem(const mem_row *mem, int nmem, source src, unsigned flags)
{
    const mem_row *m = NULL;

    for (int i = 0; i < nmem; i++)
        if (mem[i].src == src && mem[i].flags == (BENCH_MEM_TASK | flags) && !isnan(mem[i].per) &&
            (m == NULL || mem[i].reached > m->reached))
            m = &mem[i];
    return m;
}

/* measured <= limit; "measured" formatted with fmt. */
static void check(goal *g, double measured, double limit, const char *fmt)
{
    if (isnan(measured)) {
        g->met = -1;
        snprintf(g->measured, sizeof g->measured, "n/a");
        return;
    }
    snprintf(g->measured, sizeof g->measured, fmt, measured);
    g->met = measured <= limit + 1e-9;
    if (!g->met) {
        if (limit > 0)
            snprintf(g->by, sizeof g->by, "by %.0f%%", (measured / limit - 1) * 100);
        else
            snprintf(g->by, sizeof g->by, "by %.2f", measured);
    }
}

/* measured >= limit, for "Go ÷ coro" speed-ups; missed by how much faster
 * coro must become. */
static void check_min(goal *g, double measured, double limit)
{
    if (isnan(measured)) {
        g->met = -1;
        snprintf(g->measured, sizeof g->measured, "n/a");
        return;
    }
    snprintf(g->measured, sizeof g->measured, "%.2fx", measured);
    g->met = measured >= limit - 1e-9;
    if (!g->met)
        snprintf(g->by, sizeof g->by, "by %.0f%%", (limit / measured - 1) * 100);
}

/* A goal "measured <= limit" named what, its target shown as target. */
static void upto(goal *g, const char *what, const char *target, double measured, double limit,
                 const char *fmt)
{
    g->what = what;
    snprintf(g->target, sizeof g->target, "%s", target);
    check(g, measured, limit, fmt);
}

/* A goal "measured >= limit". */
static void atleast(goal *g, const char *what, const char *target, double measured, double limit)
{
    g->what = what;
    snprintf(g->target, sizeof g->target, "%s", target);
    check_min(g, measured, limit);
}

/* The runtime's: speed-ups over Go from the medians of the per-round ratios. */
static int goals_rt(const config *cf, const row *rows, int nrows, const mem_row *mem, int nmem,
                    goal *g)
{
    const row *sp = find(rows, nrows, FIG_SPAWN, "go");
    const row *ch = find(rows, nrows, FIG_CHAN, "go");
    const mem_row *go = task_mem(mem, nmem, SRC_GO, 0);
    const mem_row *m[2] = {task_mem(mem, nmem, SRC_CORO, 0), NULL};
    const char *what[2] = {"resident memory per parked task, default stacks",
                           "resident memory per parked task, CORO_COPY_STACK"};
    char t[32];
    int n = 0;

#ifdef CORO_COPY_STACK
    m[1] = task_mem(mem, nmem, SRC_CORO, CORO_COPY_STACK);
#endif
    (void)cf;
    atleast(&g[n++], "spawn + await ÷ Go's go f(); <-done: Go ÷ coro", "≥ 6.00x",
            sp ? 1 / sp->rmed : NAN, 6.0);

    atleast(&g[n++], "unbuffered channel ping-pong: Go ÷ coro", "≥ 4.00x", ch ? 1 / ch->rmed : NAN,
            4.0);

    for (int k = 0; k < 2; k++) {
        if (k == 1 && m[1] == NULL)
            break;
        g[n].what = what[k];
        if (go != NULL)
            snprintf(g[n].target, sizeof g[n].target, "≤ Go's %.0f B", go->per);
        else
            snprintf(g[n].target, sizeof g[n].target, "≤ Go's");
        check(&g[n], m[k] && go ? m[k]->per : NAN, go ? go->per : 0, "%.0f B");
        if (m[k] != NULL && go != NULL)
            snprintf(g[n].measured + strlen(g[n].measured),
                     sizeof g[n].measured - strlen(g[n].measured), " at %s",
                     thousands(m[k]->reached, t));
        n++;
    }
    for (int i = 0; i < n; i++)
        g[i].part = PART_RUNTIME;
    return n;
}

static int goals(const config *cf, const row *rows, int nrows, const mem_row *mem, int nmem,
                 goal *g)
{
    const row *fc = find(rows, nrows, FIG_ROUNDTRIP, "fcontext");
    const row *ffp = find(rows, nrows, FIG_ROUNDTRIP, "floor-fp");
    const row *rt = find(rows, nrows, FIG_ROUNDTRIP, "coro");
    const row *lc = find(rows, nrows, FIG_LIFECYCLE, "pooled");
    const row *lfp = find(rows, nrows, FIG_LIFECYCLE, "floor-fp");
    const row *rcopy = find(rows, nrows, FIG_ROUNDTRIP, "copy");
    const row *rcopy1 = find(rows, nrows, FIG_ROUNDTRIP, "copy1");
    const mem_row *big = NULL, *copy = NULL;
    int n = 0;

    memset(g, 0, NGOALS * sizeof *g);
    upto(&g[n++], "round trip: coro ÷ Boost.Context fcontext", "≤ 1.00x", fc ? fc->rmed : NAN, 1.00,
         "%.2fx");

    upto(&g[n++], "round trip: coro ÷ floor + MXCSR/x87 CW", "≤ 1.25x", ffp ? ffp->rmed : NAN, 1.25,
         "%.2fx");

    upto(&g[n++], "instructions per round trip", "≤ 65", rt ? rt->instr : NAN, 65, "%.0f");

    upto(&g[n++], "create-run-destroy, pooled", "≤ 30 ns", lc ? lc->med : NAN, 30, "%.1f ns");

    upto(&g[n++], "create-run-destroy pooled ÷ floor + MXCSR/x87 CW doing the same", "≤ 1.30x",
         lfp ? lfp->rmed : NAN, 1.30, "%.2fx");

    upto(&g[n++], "system calls per pooled create-run-destroy (strace)", "0",
         lc ? fabs(lc->sys) : NAN, 0.005, "%.2f");

    /* Memory: the largest count that was reached in full, else the largest
     * reached at all. */
    for (int i = 0; i < nmem; i++) {
        if (mem[i].src != SRC_CORO || isnan(mem[i].per))
            continue;
        if (mem[i].flags == 0 && (big == NULL || mem[i].reached > big->reached))
            big = &mem[i];
        if (mem[i].flags != 0 && (copy == NULL || mem[i].reached > copy->reached))
            copy = &mem[i];
    }
    /* Within 1% of a page: the allocator's top chunk and the kernel's
     * rounding move the marginal figure by a byte or two. */
    g[n].what = "resident memory per suspended coroutine, default stacks";
    snprintf(g[n].target, sizeof g[n].target, "≤ 1 page + control block");
    if (big != NULL) {
        char t[32];
        double pages = (big->per - big->heap) / (double)cf->page;
        check(&g[n], big->per, (double)cf->page * 1.01 + big->heap, "%.0f B");
        snprintf(g[n].measured + strlen(g[n].measured),
                 sizeof g[n].measured - strlen(g[n].measured), " = %.2f page + %.0f B at %s", pages,
                 big->heap, thousands(big->reached, t));
    } else {
        check(&g[n], NAN, 0, "");
    }
    n++;

    if (copy != NULL) { /* massive concurrency mode, when the build has it */
        char t[32];
        g[n].what = "CORO_COPY_STACK: resident per suspended coroutine";
        snprintf(g[n].target, sizeof g[n].target, "≤ 250 B at 10,000,000");
        check(&g[n], copy->per, 250, "%.0f B");
        snprintf(g[n].measured + strlen(g[n].measured),
                 sizeof g[n].measured - strlen(g[n].measured), " at %s",
                 thousands(copy->reached, t));
        if (copy->reached < 10000000) {
            g[n].met = 0;
            snprintf(g[n].by, sizeof g[n].by, "stopped by %s",
                     copy->err == BENCH_MEMORY_CAP ? "the memory cap" : coro_errname(copy->err));
        }
        n++;
    }
    if (rcopy1 != NULL) {
        upto(&g[n++], "CORO_COPY_STACK round trip (one, with main) ÷ default round trip", "≤ 2.00x",
             1 / rcopy1->rmed, 2.00, "%.2fx");
    }
    if (rcopy != NULL) {
        upto(&g[n++], "CORO_COPY_STACK round trip (2 in turn) ÷ default round trip", "≤ 2.00x",
             1 / rcopy->rmed, 2.00, "%.2fx");
    }
    for (int i = 0; i < n; i++)
        g[i].part = PART_COROUTINES;
    return n + goals_rt(cf, rows, nrows, mem, nmem, g + n);
}
