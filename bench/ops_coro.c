/*
 * ops_coro.c - the operations of coro itself that the suite times: a
 * resume/yield round trip, create-run-destroy (pooled and with a fresh
 * stack), a wrap generator call, a value each way, and the memory a
 * suspended coroutine costs.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "coro.h"
#include "bench.h"

static void *pingpong(void *arg)
{
    for (;;)
        coro_yield(NULL, NULL);
    return arg;
}

static double roundtrip(long n)
{
    coro *co;
    double t0, t1;

    if (coro_create(&co, pingpong, NULL) != 0 || coro_resume(co, NULL, NULL) != 1)
        return -1;
    t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        coro_resume(co, NULL, NULL);
    t1 = bench_now_ns();
    coro_destroy(co);
    return t1 - t0;
}

static void *nothing(void *arg)
{
    return arg;
}

/* One create + first resume + run to end + destroy; 0 or -1. */
static int lifecycle_once(const coro_options *opt)
{
    coro *co;
    void *out = NULL;

    if (coro_create(&co, nothing, opt) != 0)
        return -1;
    if (coro_resume(co, &out, &out) != 0 || coro_destroy(co) != 0)
        return -1;
    return 0;
}

/* Steady state: the first round trip through the pool is done before the
 * clock starts, so every timed create takes its stack from the pool. */
static double lifecycle_pooled(long n)
{
    int bad = 0;
    double t0, t1;

    if (lifecycle_once(NULL) != 0)
        return -1;
    t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        bad |= lifecycle_once(NULL);
    t1 = bench_now_ns();
    return bad ? -1 : t1 - t0;
}

/*
 * Every create maps a fresh stack and every destroy unmaps it: the pool is
 * first filled with stacks of another size, which a default-size create
 * never takes, and being full it refuses the stacks of the timed ones.
 * This spoils the pool for the rest of the process, so the driver runs this
 * operation in a process of its own; the system calls it counts per
 * operation (mmap, mprotect, munmap) show the bypass worked.
 */
#define FILL 1024
static double lifecycle_fresh(long n)
{
    static coro *fill[FILL];
    coro_options small = {0};
    int bad = 0;
    double t0, t1;

    small.stack_size = CORO_STACK_MIN;

    for (int i = 0; i < FILL; i++)
        if (coro_create(&fill[i], nothing, &small) != 0)
            return -1;
    for (int i = 0; i < FILL; i++)
        bad |= coro_resume(fill[i], NULL, NULL) != 0 || coro_destroy(fill[i]) != 0;
    t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        bad |= lifecycle_once(NULL);
    t1 = bench_now_ns();
    return bad ? -1 : t1 - t0;
}

static void *counter(void *arg)
{
    for (uintptr_t i = 1;; i++)
        coro_yield((void *)i, NULL);
    return arg;
}

/* A generator driven by coro_call (with_call) or by coro_resume. */
static double generator(long n, int with_call)
{
    coro *gen;
    void *v = NULL;
    uintptr_t bad = 0;
    double t0, t1;

    if ((with_call ? coro_wrap(&gen, counter, NULL) : coro_create(&gen, counter, NULL)) != 0)
        return -1;
    t0 = bench_now_ns();
    for (long i = 1; i <= n; i++) {
        if (with_call)
            coro_call(gen, NULL, &v);
        else
            coro_resume(gen, NULL, &v);
        bad |= (uintptr_t)v ^ (uintptr_t)i;
    }
    t1 = bench_now_ns();
    coro_destroy(gen);
    return bad ? -1 : t1 - t0;
}

static double wrap_call(long n)
{
    return generator(n, 1);
}

static double wrap_resume(long n)
{
    return generator(n, 0);
}

/* Receives v, yields v + 1, forever. */
static void *successor(void *arg)
{
    void *v = arg;

    for (;;)
        coro_yield((void *)((uintptr_t)v + 1), &v);
    return NULL;
}

static double value(long n)
{
    coro *co;
    void *out = NULL;
    uintptr_t bad = 0;
    double t0, t1;

    if (coro_create(&co, successor, NULL) != 0 || coro_resume(co, NULL, &out) != 1)
        return -1;
    t0 = bench_now_ns();
    for (long i = 1; i <= n; i++) {
        coro_resume(co, (void *)(uintptr_t)i, &out);
        bad |= (uintptr_t)out ^ (uintptr_t)(i + 1);
    }
    t1 = bench_now_ns();
    coro_destroy(co);
    return bad ? -1 : t1 - t0;
}

#ifdef CORO_COPY_STACK
/*
 * Massive concurrency mode. Two copy-stack coroutines resumed in turn: each
 * resume finds the other one's frames on the shared stack, so it copies
 * those out and its own in. Their live stacks are shallow (a few hundred
 * bytes), the case the copy-stack goal is about. One copy-stack coroutine
 * alone would copy nothing (the main coroutine has its own stack).
 */
static double roundtrip_copy(long n)
{
    coro_options opt = {0};
    coro *co[2];
    double t0, t1;

    opt.flags = CORO_COPY_STACK;
    for (int i = 0; i < 2; i++)
        if (coro_create(&co[i], pingpong, &opt) != 0 || coro_resume(co[i], NULL, NULL) != 1)
            return -1;
    t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        coro_resume(co[i & 1], NULL, NULL);
    t1 = bench_now_ns();
    coro_destroy(co[0]);
    coro_destroy(co[1]);
    return t1 - t0;
}

/* One copy-stack coroutine and the main coroutine: its frames stay on the
 * shared stack, so nothing is copied (the lazy copy's best case, and the
 * usual one for a generator). */
static double roundtrip_copy1(long n)
{
    coro_options opt = {0};
    coro *co;
    double t0, t1;

    opt.flags = CORO_COPY_STACK;
    if (coro_create(&co, pingpong, &opt) != 0 || coro_resume(co, NULL, NULL) != 1)
        return -1;
    t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        coro_resume(co, NULL, NULL);
    t1 = bench_now_ns();
    coro_destroy(co);
    return t1 - t0;
}

static double lifecycle_copy(long n)
{
    coro_options opt = {0};
    int bad = 0;
    double t0, t1;

    opt.flags = CORO_COPY_STACK;
    if (lifecycle_once(&opt) != 0)
        return -1;
    t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        bad |= lifecycle_once(&opt);
    t1 = bench_now_ns();
    return bad ? -1 : t1 - t0;
}
#endif

/* Operations that a build may lack (copy-stack mode) simply are not listed:
 * the driver then leaves their rows out. */
const bench_op bench_coro_ops[] = {
    {BENCH_FIG_ROUNDTRIP, "coro", roundtrip},
    {BENCH_FIG_LIFECYCLE, "pooled", lifecycle_pooled},
    {BENCH_FIG_LIFECYCLE, "fresh", lifecycle_fresh},
    {BENCH_FIG_WRAP, "call", wrap_call},
    {BENCH_FIG_WRAP, "resume", wrap_resume},
    {BENCH_FIG_VALUE, "coro", value},
#ifdef CORO_COPY_STACK
    {BENCH_FIG_ROUNDTRIP, "copy1", roundtrip_copy1},
    {BENCH_FIG_ROUNDTRIP, "copy", roundtrip_copy},
    {BENCH_FIG_LIFECYCLE, "copy", lifecycle_copy},
#endif
    {NULL, NULL, NULL},
};

/* ---- memory per suspended coroutine ---- */

static double resident_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

/* MemAvailable (free memory plus what the kernel can reclaim), or all of
 * the memory if the kernel does not say. */
static double available_bytes(void)
{
    char line[128];
    double kb = -1;
    FILE *f = fopen("/proc/meminfo", "r");

    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    if (kb < 0)
        return (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    return kb * 1024;
}

static double heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();

    return (double)mi.uordblks + (double)mi.hblkhd;
}

static void *park(void *arg)
{
    coro_yield(NULL, NULL);
    return arg;
}

/*
 * The cost of one more coroutine: the growth between a checkpoint (half the
 * count asked, at most 8192) and the end, divided by the coroutines created
 * in between, so that fixed costs (the allocator's and the kernel's first
 * pages, the thread's state) are not spread over the coroutines.
 */
void bench_coro_memory(long n, unsigned flags, long *reached, double *rss, double *heap, int *err)
{
    coro **all = calloc((size_t)n, sizeof *all);
    coro_options opt = {0};
    long i, mark = n / 2 < 8192 ? n / 2 : 8192;
    double rss0 = 0, heap0 = 0;
    /* Never push the machine into swap or the OOM killer. */
    double cap = available_bytes() / 2;

    *err = 0;
    *reached = 0;
    *rss = *heap = 0;
    if (all == NULL || mark < 1) {
        *err = CORO_ENOMEM;
        return;
    }
    /* Touch the handle array now: calloc's pages may not be resident yet. */
    for (i = 0; i < n; i++)
        ((coro *volatile *)all)[i] = NULL;
#ifdef CORO_COPY_STACK
    opt.flags = flags;
#else
    if (flags != 0) {
        *err = CORO_EINVAL;
        return;
    }
#endif
    for (i = 0; i < n; i++) {
        int e;
        if (i == mark) {
            rss0 = resident_bytes();
            heap0 = heap_bytes();
        }
        if (i % 65536 == 0 && resident_bytes() > cap) {
            *err = BENCH_MEMORY_CAP;
            break;
        }
        e = coro_create(&all[i], park, &opt);
        if (e == 0 && coro_resume(all[i], NULL, NULL) != 1)
            e = CORO_EINVAL;
        if (e != 0) {
            *err = e;
            break;
        }
    }
    *reached = i;
    if (i > mark) {
        *rss = (resident_bytes() - rss0) / (double)(i - mark);
        *heap = (heap_bytes() - heap0) / (double)(i - mark);
    }
}

/* The runtime's operations: a part of this file kept apart for its size
 * (it uses this file's helpers; the Makefile knows it is a dependency). */
#include "ops_rt.c"
