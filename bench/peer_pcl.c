/*
 * peer_pcl.c - the PCL reference (libpcl1-dev, Davide Libenzi's Portable
 * Coroutine Library), built as a peer module (peer_pcl.so) that the driver
 * loads with dlopen. Debian's PCL switches with swapcontext, which also
 * saves and restores the signal mask: two system calls per round trip.
 */
#include <pcl.h>
#include <stdint.h>

#include "bench.h"

#define STACK_SIZE (64 * 1024)
static char stack[STACK_SIZE] __attribute__((aligned(64)));

static void pingpong(void *data)
{
    (void)data;
    for (;;)
        co_resume();
}

static double roundtrip(long n)
{
    coroutine_t co = co_create(pingpong, NULL, stack, STACK_SIZE);
    double t0, t1;

    if (co == NULL)
        return -1;
    co_call(co);
    t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        co_call(co);
    t1 = bench_now_ns();
    co_delete(co);
    return t1 - t0;
}

static uintptr_t result;

/* Returning ends the coroutine: PCL deletes it (co_exit). */
static void run(void *data)
{
    result = (uintptr_t)data;
}

static double lifecycle(long n)
{
    uintptr_t bad = 0;
    double t0, t1;

    t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        coroutine_t co = co_create(run, (void *)(uintptr_t)i, stack, STACK_SIZE);
        if (co == NULL)
            return -1;
        co_call(co);
        bad |= result ^ (uintptr_t)i;
    }
    t1 = bench_now_ns();
    return bad ? -1 : t1 - t0;
}

static const bench_op ops[] = {
    {BENCH_FIG_ROUNDTRIP, "pcl", roundtrip},
    {BENCH_FIG_LIFECYCLE, "pcl", lifecycle},
    {NULL, NULL, NULL},
};

__attribute__((visibility("default"))) const bench_op *bench_peer_ops(void)
{
    return ops;
}
