/*
 * bench.h - what the parts of the benchmark suite share: an operation to
 * time, as every in-process implementation (coro, the floor reference, the
 * Boost.Context and PCL peer modules) provides it.
 *
 * The peer modules are shared objects that the driver loads with dlopen, so
 * a peer whose package is missing shows "n/a" instead of breaking the build.
 */
#ifndef BENCH_H
#define BENCH_H

#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The timed figures, by the key used in the table, JSON and command line. */
#define BENCH_FIG_ROUNDTRIP "roundtrip" /* (1) resume + yield round trip */
#define BENCH_FIG_LIFECYCLE "lifecycle" /* (2) create + first resume + run to end + destroy */
#define BENCH_FIG_WRAP "wrap"           /* (4) a wrap generator call */
#define BENCH_FIG_VALUE "value"         /* (5) a value each way, checked */
/* The runtime's, each sample inside one coro_run. */
#define BENCH_FIG_SPAWN "spawn"   /* (6) spawn + run + finish of a task */
#define BENCH_FIG_CHAN "chan"     /* (7) unbuffered channel ping-pong */
#define BENCH_FIG_BCHAN "bchan"   /* (8) buffered (64) channel ping-pong */
#define BENCH_FIG_SELECT "select" /* (9) select over 4 channels */
#define BENCH_FIG_SLEEP "sleep"   /* (10) sleep throughput */

/*
 * One operation of one implementation. run(n) sets up, performs the
 * operation n times, tears down, and returns the nanoseconds the n
 * operations took (setup and teardown excluded), or a negative value when
 * the implementation failed or a checked value came back wrong.
 */
typedef struct bench_op {
    const char *fig;  /* one of BENCH_FIG_* */
    const char *name; /* as shown in the table */
    double (*run)(long n);
} bench_op;

/* What a peer module exports: its operations, ended by one whose name is
 * NULL. The driver finds it with dlsym. */
const bench_op *bench_peer_ops(void);
typedef const bench_op *(*bench_peer_fn)(void);
#define BENCH_PEER_SYMBOL "bench_peer_ops"

static inline double bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The in-process operations of the driver itself. */
extern const bench_op bench_coro_ops[];  /* ops_coro.c */
extern const bench_op bench_floor_ops[]; /* floor.c; empty off x86-64 */
extern const bench_op bench_rt_ops[];    /* ops_rt.c: the runtime */

/* Memory per suspended coroutine (ops_coro.c), run in a fresh process:
 * creates up to n coroutines with the given coro_options flags (0: default
 * stacks), each started and suspended in its first yield, and stores how
 * many it reached, the resident and heap bytes one more coroutine costs,
 * and 0 or the error that stopped it: a CORO_E* code, or BENCH_MEMORY_CAP
 * when it holds half the memory that was available (MemAvailable) at the
 * start. */
#define BENCH_MEMORY_CAP 1
void bench_coro_memory(long n, unsigned flags, long *reached, double *rss, double *heap, int *err);

/* The same for tasks of the runtime (ops_rt.c), each parked in a channel
 * receive; flags are coro_task_options flags. The driver marks memory rows
 * of tasks with BENCH_MEM_TASK in their flags. */
#define BENCH_MEM_TASK 0x40000000u
void bench_rt_memory(long n, unsigned flags, long *reached, double *rss, double *heap, int *err);

#ifdef __cplusplus
}
#endif

#endif /* BENCH_H */
