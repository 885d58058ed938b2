/*
 * floor.c - the floor reference's operations (x86-64 only; elsewhere the
 * table shows "n/a"): a round trip, and "create-run-destroy" done the
 * floor's way: nothing allocated, a context initialised on a fixed stack,
 * switch in, run a body to its end, switch out. The switches themselves are
 * in floor_x86_64.S. Each operation comes in two variants: the bare switch
 * and the one that also saves MXCSR and the x87 control word, which saves
 * the same registers as coro.
 */
#include <stdint.h>
#include <stdlib.h>

#include "bench.h"

#if defined(__x86_64__)

void floor_switch(void **save_sp, void *load_sp);
void floor_switch_fp(void **save_sp, void *load_sp);

#define STACK_SIZE (64 * 1024)
static char stack[STACK_SIZE] __attribute__((aligned(64)));
static void *main_sp, *co_sp;

/* Builds a context on `stack` whose first switch jumps to entry. */
static void *init(void (*entry)(void), int fp)
{
    void **sp = (void **)(stack + STACK_SIZE);

    *--sp = NULL;          /* entry starts as if called: rsp + 8 aligned */
    *--sp = (void *)entry; /* where the first switch jumps */
    for (int i = 0; i < 6; i++)
        *--sp = NULL; /* rbp rbx r12 r13 r14 r15 */
    if (fp) {
        uint16_t cw;
        uint32_t csr = __builtin_ia32_stmxcsr();
        __asm__ volatile("fnstcw %0" : "=m"(cw));
        --sp;
        ((uint32_t *)sp)[0] = csr;
        ((uint16_t *)sp)[2] = cw;
    }
    return sp;
}

static inline __attribute__((always_inline)) void sw(int fp, void **save, void *load)
{
    if (fp)
        floor_switch_fp(save, load);
    else
        floor_switch(save, load);
}

/* ---- round trip ---- */

static inline __attribute__((always_inline)) void pingpong(int fp)
{
    for (;;)
        sw(fp, &co_sp, main_sp);
}

static void pingpong_plain(void)
{
    pingpong(0);
}

static void pingpong_fp(void)
{
    pingpong(1);
}

static inline __attribute__((always_inline)) double roundtrip(long n, int fp)
{
    double t0, t1;

    co_sp = init(fp ? pingpong_fp : pingpong_plain, fp);
    sw(fp, &main_sp, co_sp);
    t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        sw(fp, &main_sp, co_sp);
    t1 = bench_now_ns();
    return t1 - t0;
}

static double roundtrip_plain(long n)
{
    return roundtrip(n, 0);
}

static double roundtrip_fp(long n)
{
    return roundtrip(n, 1);
}

/* ---- create + run to end + "destroy" ---- */

/* The body, called through a pointer as a library would call it. */
static void *nothing(void *arg)
{
    return arg;
}
static void *(*volatile body)(void *) = nothing;
static void *arg, *result;

static inline __attribute__((always_inline)) void run_to_end(int fp)
{
    void *dead_sp;

    result = body(arg);
    sw(fp, &dead_sp, main_sp);
    abort(); /* a finished context is never switched to */
}

static void run_plain(void)
{
    run_to_end(0);
}

static void run_fp(void)
{
    run_to_end(1);
}

static inline __attribute__((always_inline)) double lifecycle(long n, int fp)
{
    uintptr_t bad = 0;
    double t0, t1;

    t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        arg = (void *)(uintptr_t)i;
        sw(fp, &main_sp, init(fp ? run_fp : run_plain, fp));
        bad |= (uintptr_t)result ^ (uintptr_t)i;
    }
    t1 = bench_now_ns();
    return bad ? -1 : t1 - t0;
}

static double lifecycle_plain(long n)
{
    return lifecycle(n, 0);
}

static double lifecycle_fp(long n)
{
    return lifecycle(n, 1);
}

const bench_op bench_floor_ops[] = {
    {BENCH_FIG_ROUNDTRIP, "floor", roundtrip_plain},
    {BENCH_FIG_ROUNDTRIP, "floor-fp", roundtrip_fp},
    {BENCH_FIG_LIFECYCLE, "floor", lifecycle_plain},
    {BENCH_FIG_LIFECYCLE, "floor-fp", lifecycle_fp},
    {NULL, NULL, NULL},
};

#else

const bench_op bench_floor_ops[] = {{NULL, NULL, NULL}};

#endif
