/*
 * bench_core.c - what the core costs: a resume/yield round trip, a generator
 * call, and create + first resume + run to end + destroy, measured side by
 * side with a floor reference in one run.
 *
 * The floor (x86-64 only) is the smallest correct switch: push the six
 * callee-saved registers, swap rsp, pop, jump. The benchmark interleaves
 * rounds (coro, floor, coro, floor, ...) so both see the same machine load,
 * and reports the median ns/op with min-max over the rounds and the ratio of
 * medians. Pin it to one CPU for steadier numbers: taskset -c 1 make bench.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "coro.h"

#define ROUNDS 15

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const char *name;
    double (*run)(long n); /* returns ns per operation */
    double v[ROUNDS];
} bench;

/* ---- coro ---- */

static void *pingpong(void *arg)
{
    (void)arg;
    for (;;)
        coro_yield(NULL, NULL);
    return NULL;
}

static double coro_roundtrip(long n)
{
    coro *co;
    double t0, t1;

    if (coro_create(&co, pingpong, NULL) != 0)
        abort();
    coro_resume(co, NULL, NULL);
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        coro_resume(co, NULL, NULL);
    t1 = now_ns();
    coro_destroy(co);
    return (t1 - t0) / (double)n;
}

static void *counter(void *arg)
{
    for (uintptr_t i = 0;; i++)
        coro_yield((void *)i, NULL);
    return arg;
}

static double coro_generator(long n)
{
    coro *gen;
    void *v;
    double t0, t1;

    if (coro_wrap(&gen, counter, NULL) != 0)
        abort();
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        coro_call(gen, NULL, &v);
    t1 = now_ns();
    coro_destroy(gen);
    return (t1 - t0) / (double)n;
}

static void *nothing(void *arg)
{
    return arg;
}

static double coro_lifecycle(long n)
{
    double t0, t1;

    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        coro *co;
        if (coro_create(&co, nothing, NULL) != 0)
            abort();
        coro_resume(co, NULL, NULL);
        coro_destroy(co);
    }
    t1 = now_ns();
    return (t1 - t0) / (double)n;
}

/* ---- the floor reference ---- */

#if defined(__x86_64__)
void floor_switch(void **save, void *load);
__asm__(".text\n"
        ".globl floor_switch\n"
        "floor_switch:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  popq %rcx\n"
        "  jmpq *%rcx\n");

static void *floor_main_sp, *floor_co_sp;

static void floor_body(void)
{
    for (;;)
        floor_switch(&floor_co_sp, floor_main_sp);
}

static double floor_roundtrip(long n)
{
    static char stack[64 * 1024] __attribute__((aligned(16)));
    void **sp = (void **)(stack + sizeof stack);
    double t0, t1;

    *--sp = NULL;               /* alignment: the body starts as if called */
    *--sp = (void *)floor_body; /* "return address" */
    for (int i = 0; i < 6; i++)
        *--sp = NULL;
    floor_co_sp = sp;
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        floor_switch(&floor_main_sp, floor_co_sp);
    t1 = now_ns();
    return (t1 - t0) / (double)n;
}
#endif

static void report(bench *b, const bench *ref)
{
    double med, ref_med;

    qsort(b->v, ROUNDS, sizeof b->v[0], cmp_double);
    med = b->v[ROUNDS / 2];
    printf("%-34s %8.2f ns  (%.2f-%.2f)", b->name, med, b->v[0], b->v[ROUNDS - 1]);
    if (ref != NULL) {
        ref_med = ref->v[ROUNDS / 2];
        printf("  %5.2fx %s", med / ref_med, ref->name);
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    bench rt = {"resume+yield round trip", coro_roundtrip, {0}};
    bench gen = {"wrap generator call", coro_generator, {0}};
    bench life = {"create+resume+destroy (pooled)", coro_lifecycle, {0}};
#if defined(__x86_64__)
    bench flo = {"floor switch round trip", floor_roundtrip, {0}};
#endif

    for (int r = 0; r < ROUNDS; r++) {
        rt.v[r] = rt.run(n);
#if defined(__x86_64__)
        flo.v[r] = flo.run(n);
#endif
        gen.v[r] = gen.run(n);
        life.v[r] = life.run(n / 4);
    }
    printf("median of %d interleaved rounds, ns per operation (min-max)\n", ROUNDS);
#if defined(__x86_64__)
    qsort(flo.v, ROUNDS, sizeof flo.v[0], cmp_double);
    report(&rt, &flo);
    report(&flo, NULL);
#else
    report(&rt, NULL);
#endif
    report(&gen, NULL);
    report(&life, NULL);
    return 0;
}
