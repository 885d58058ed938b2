/*
 * ops_rt.c - the operations of coro's runtime that the suite times (rows
 * (6)-(11)): spawn + run + finish of a task, channel ping-pong (unbuffered and
 * buffered), select over 4 channels, sleep throughput, and the memory a
 * task parked in a channel receive costs.
 *
 * Each sample is one coro_run(): its main task sets up (channels, partner
 * tasks, a first untimed operation), then times its n operations with the
 * same clock as every other row; the loop's own start and end are not
 * timed. Every received value and result is checked, and a wrong one fails
 * the sample. The Go rows (peer_go.go) do the same work with goroutines.
 *
 * Included by ops_coro.c: the Makefile links a fixed list of objects.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "coro.h"
#include "bench.h"

/* What one sample's main task is given and gives back. */
typedef struct rt_job {
    long n;         /* operations to time */
    unsigned flags; /* coro_task_options.flags of the partner tasks */
    size_t cap;     /* channel capacity */
    double ns;      /* the n operations took */
    int bad;        /* a call failed or a value came back wrong */
} rt_job;

static double rt_sample(coro_fn body, long n, unsigned flags, size_t cap)
{
    rt_job job = {n, flags, cap, 0, 0};

    if (coro_run(body, &job, NULL, NULL) != 0 || job.bad)
        return -1;
    return job.ns;
}

static coro_task_options rt_options(const rt_job *j)
{
    coro_task_options opt = {0};

    opt.flags = j->flags;
    return opt;
}

/* ---- (6) spawn + run + finish ---- */

static void *rt_identity(void *arg)
{
    return arg;
}

/* coro_spawn + coro_await of a task that returns its argument at once. */
static int spawn_await_once(const coro_task_options *opt, long i)
{
    coro_task *t;
    void *r = NULL;

    if (coro_spawn(&t, rt_identity, (void *)(uintptr_t)i, opt) != 0 || coro_await(t, &r) != 0)
        return 1;
    return r != (void *)(uintptr_t)i;
}

static void *spawn_body(void *arg)
{
    rt_job *j = arg;
    coro_task_options opt = rt_options(j);
    double t0;

    j->bad |= spawn_await_once(&opt, -1); /* the stack pool's first stack */
    t0 = bench_now_ns();
    for (long i = 0; i < j->n; i++)
        j->bad |= spawn_await_once(&opt, i);
    j->ns = bench_now_ns() - t0;
    return NULL;
}

static double spawn_await(long n)
{
    return rt_sample(spawn_body, n, 0, 0);
}

/* Go's `go f(); <-done` exactly: a detached task sends its argument on an
 * unbuffered channel and ends; the main task receives it. */
static coro_chan *rt_done;

static void *send_done(void *arg)
{
    long v = (long)(uintptr_t)arg;

    coro_chan_send(rt_done, &v);
    return NULL;
}

static void *detached_body(void *arg)
{
    rt_job *j = arg;
    coro_task_options opt = rt_options(j);
    double t0 = 0;

    if (coro_chan_open(&rt_done, sizeof(long), 0) != 0) {
        j->bad = 1;
        return NULL;
    }
    for (long i = -1; i < j->n; i++) { /* i == -1: untimed, the first stack */
        long v = -2;
        if (i == 0)
            t0 = bench_now_ns();
        if (coro_spawn(NULL, send_done, (void *)(uintptr_t)i, &opt) != 0 ||
            coro_chan_recv(rt_done, &v) != 0 || v != i) {
            j->bad = 1;
            break;
        }
    }
    j->ns = bench_now_ns() - t0;
    coro_chan_close(rt_done);
    coro_chan_free(rt_done);
    return NULL;
}

static double spawn_detached(long n)
{
    return rt_sample(detached_body, n, 0, 0);
}

/* ---- (7), (8) ping-pong: send v, the partner replies v + 1 ---- */

typedef struct rt_pair {
    coro_chan *ping, *pong;
} rt_pair;

static void *echo_succ(void *arg)
{
    rt_pair *p = arg;
    long v;

    while (coro_chan_recv(p->ping, &v) == 0) {
        v++;
        if (coro_chan_send(p->pong, &v) != 0)
            return p; /* not NULL: failed */
    }
    return NULL;
}

static void *pingpong_body(void *arg)
{
    rt_job *j = arg;
    coro_task_options opt = rt_options(j);
    rt_pair p = {NULL, NULL};
    coro_task *echo = NULL;
    void *r = NULL;
    double t0 = 0;

    if (coro_chan_open(&p.ping, sizeof(long), j->cap) != 0 ||
        coro_chan_open(&p.pong, sizeof(long), j->cap) != 0 ||
        coro_spawn(&echo, echo_succ, &p, &opt) != 0) {
        j->bad = 1;
        return NULL;
    }
    for (long i = -1; i < j->n; i++) { /* i == -1: untimed */
        long v = i, w = 0;
        if (i == 0)
            t0 = bench_now_ns();
        if (coro_chan_send(p.ping, &v) != 0 || coro_chan_recv(p.pong, &w) != 0 || w != i + 1) {
            j->bad = 1;
            break;
        }
    }
    j->ns = bench_now_ns() - t0;
    coro_chan_close(p.ping);
    j->bad |= coro_await(echo, &r) != 0 || r != NULL;
    coro_chan_free(p.ping);
    coro_chan_free(p.pong);
    return NULL;
}

static double chan_unbuffered(long n)
{
    return rt_sample(pingpong_body, n, 0, 0);
}

static double chan_buffered(long n)
{
    return rt_sample(pingpong_body, n, 0, 64);
}

/* ---- (9) select over 4 channels, one of them ready ---- */

#define SELECT_N 4

typedef struct rt_sel {
    coro_chan *ch[SELECT_N];
    long n;
} rt_sel;

/* Sends 0, 1, 2, ... n - 1, value i on channel i % 4. */
static void *round_robin(void *arg)
{
    rt_sel *s = arg;

    for (long i = 0; i < s->n; i++)
        if (coro_chan_send(s->ch[i % SELECT_N], &i) != 0)
            return s;
    return NULL;
}

static void *select_body(void *arg)
{
    rt_job *j = arg;
    coro_task_options opt = rt_options(j);
    rt_sel s = {{NULL}, j->n + 1};
    long got[SELECT_N];
    coro_case cases[SELECT_N];
    coro_task *sender = NULL;
    void *r = NULL;
    double t0 = 0;

    for (int k = 0; k < SELECT_N; k++) {
        if (coro_chan_open(&s.ch[k], sizeof(long), 0) != 0) {
            j->bad = 1;
            return NULL;
        }
        cases[k].chan = s.ch[k];
        cases[k].op = CORO_RECV;
        cases[k].data = &got[k];
        cases[k].result = -1;
    }
    if (coro_spawn(&sender, round_robin, &s, &opt) != 0) {
        j->bad = 1;
        return NULL;
    }
    for (long i = 0; i <= j->n; i++) { /* value 0: untimed */
        int k;
        if (i == 1)
            t0 = bench_now_ns();
        k = coro_select(cases, SELECT_N);
        if (k != i % SELECT_N || cases[k].result != 0 || got[k] != i) {
            j->bad = 1;
            break;
        }
    }
    j->ns = bench_now_ns() - t0;
    for (int k = 0; k < SELECT_N; k++)
        coro_chan_close(s.ch[k]);
    j->bad |= coro_await(sender, &r) != 0 || r != NULL;
    for (int k = 0; k < SELECT_N; k++)
        coro_chan_free(s.ch[k]);
    return NULL;
}

static double select4(long n)
{
    return rt_sample(select_body, n, 0, 0);
}

/* ---- (10) sleep throughput ---- */

/* Tasks sleeping at once: the timers pending in the loop. */
#define SLEEPERS 1000

typedef struct rt_sleep {
    coro_chan *start;  /* closed when the clock starts */
    coro_chan *finish; /* closed by the last to finish its sleeps */
    long tasks, finished;
    double t1; /* when the last sleep ended */
} rt_sleep;

static rt_sleep rt_sl;

static void *sleeper(void *arg)
{
    long v;

    if (coro_chan_recv(rt_sl.start, &v) != CORO_ECHCLOSED)
        return arg; /* not NULL: failed */
    for (long k = (long)(uintptr_t)arg; k > 0; k--)
        if (coro_sleep(CORO_USEC(1)) != 0)
            return arg;
    if (++rt_sl.finished == rt_sl.tasks) {
        rt_sl.t1 = bench_now_ns();
        coro_chan_close(rt_sl.finish);
    }
    return coro_chan_recv(rt_sl.finish, &v) == CORO_ECHCLOSED ? NULL : arg;
}

/*
 * SLEEPERS tasks each looping coro_sleep(1 us), n sleeps in all; one
 * operation is one sleep: a timer armed, due, fired and its task resumed.
 * The clock runs from when the tasks, spawned and parked, are let go to
 * when the last sleep ends: their first stack touches before, their ends
 * (a stack the pool has no room for is unmapped) after, are not timed.
 */
static void *sleep_body(void *arg)
{
    rt_job *j = arg;
    coro_task_options opt = rt_options(j);
    coro_task **t;
    double t0;

    rt_sl.tasks = j->n < SLEEPERS ? j->n : SLEEPERS;
    rt_sl.finished = 0;
    rt_sl.start = rt_sl.finish = NULL;
    t = calloc((size_t)rt_sl.tasks, sizeof *t);
    if (t == NULL || coro_chan_open(&rt_sl.start, sizeof(long), 0) != 0 ||
        coro_chan_open(&rt_sl.finish, sizeof(long), 0) != 0) {
        coro_chan_free(rt_sl.start); /* NULL: CORO_EINVAL, nothing done */
        free(t);
        j->bad = 1;
        return NULL;
    }
    for (long i = 0; i < rt_sl.tasks && !j->bad; i++) {
        long k = j->n / rt_sl.tasks + (i < j->n % rt_sl.tasks);
        j->bad |= coro_spawn(&t[i], sleeper, (void *)(uintptr_t)k, &opt) != 0;
    }
    j->bad |= coro_yield(NULL, NULL) != 0; /* each runs to its receive */
    t0 = bench_now_ns();
    coro_chan_close(rt_sl.start);
    for (long i = 0; i < rt_sl.tasks && t[i] != NULL; i++) {
        void *r = NULL;
        j->bad |= coro_await(t[i], &r) != 0 || r != NULL;
    }
    j->bad |= rt_sl.finished != rt_sl.tasks;
    j->ns = rt_sl.t1 - t0;
    coro_chan_free(rt_sl.start);
    coro_chan_free(rt_sl.finish);
    free(t);
    return NULL;
}

static double sleep_1us(long n)
{
    return rt_sample(sleep_body, n, 0, 0);
}

#ifdef CORO_COPY_STACK
static double spawn_await_copy(long n)
{
    return rt_sample(spawn_body, n, CORO_COPY_STACK, 0);
}

static double chan_unbuffered_copy(long n)
{
    return rt_sample(pingpong_body, n, CORO_COPY_STACK, 0);
}
#endif

const bench_op bench_rt_ops[] = {
    {BENCH_FIG_SPAWN, "await", spawn_await},
    {BENCH_FIG_SPAWN, "detached", spawn_detached},
    {BENCH_FIG_CHAN, "coro", chan_unbuffered},
    {BENCH_FIG_BCHAN, "coro", chan_buffered},
    {BENCH_FIG_SELECT, "coro", select4},
    {BENCH_FIG_SLEEP, "coro", sleep_1us},
#ifdef CORO_COPY_STACK
    {BENCH_FIG_SPAWN, "copy", spawn_await_copy},
    {BENCH_FIG_CHAN, "copy", chan_unbuffered_copy},
#endif
    {NULL, NULL, NULL},
};

/* ---- (11) memory per task parked in a channel receive ---- */

typedef struct rt_mem {
    long n, reached, started, woke;
    unsigned flags;
    double rss, heap, cap;
    int err;
    coro_chan *block;
} rt_mem;

/* ops_coro.c's */
static double resident_bytes(void);
static double available_bytes(void);
static double heap_bytes(void);

static void *parked(void *arg)
{
    rt_mem *m = arg;
    long v;

    m->started++;
    if (coro_chan_recv(m->block, &v) == CORO_ECHCLOSED)
        m->woke++;
    return NULL;
}

/* Every task spawned so far runs to its receive and parks there: the ready
 * tasks run first come, first served, and this one goes last. */
static int park_all(rt_mem *m, long spawned)
{
    if (coro_yield(NULL, NULL) != 0)
        return CORO_EINVAL;
    return m->started == spawned && m->woke == 0 ? 0 : CORO_EINVAL;
}

static void *memory_body(void *arg)
{
    rt_mem *m = arg;
    coro_task_options opt = {0};
    long i, mark = m->n / 2 < 8192 ? m->n / 2 : 8192;
    double rss0 = 0, heap0 = 0;

    opt.flags = m->flags;
    if ((m->err = coro_chan_open(&m->block, sizeof(long), 0)) != 0)
        return NULL;
    for (i = 0; i < m->n; i++) {
        if (i == mark) {
            if ((m->err = park_all(m, i)) != 0)
                break;
            rss0 = resident_bytes();
            heap0 = heap_bytes();
        }
        if (i % 65536 == 0 && resident_bytes() > m->cap) {
            m->err = BENCH_MEMORY_CAP;
            break;
        }
        if (i % 1024 == 1023 && (m->err = park_all(m, i)) != 0)
            break;
        if ((m->err = coro_spawn(NULL, parked, m, &opt)) != 0)
            break;
    }
    m->reached = i;
    if (park_all(m, i) == 0 && i > mark) {
        m->rss = (resident_bytes() - rss0) / (double)(i - mark);
        m->heap = (heap_bytes() - heap0) / (double)(i - mark);
    }
    /* Every parked task wakes, and runs to its end before this one goes on. */
    coro_chan_close(m->block);
    if (coro_yield(NULL, NULL) != 0 || m->woke != m->reached)
        m->err = m->err ? m->err : CORO_EINVAL;
    coro_chan_free(m->block);
    return NULL;
}

/*
 * Like bench_coro_memory, for tasks: spawns up to n tasks with the given
 * coro_task_options flags, each parked in a receive on one channel nobody
 * sends on, and measures what one more costs, from min(n / 2, 8192) tasks
 * to the end. Then closes the channel, and checks that every task woke.
 */
void bench_rt_memory(long n, unsigned flags, long *reached, double *rss, double *heap, int *err)
{
    rt_mem m = {0};
    int e;

    m.n = n;
    m.flags = flags;
    m.cap = available_bytes() / 2; /* never push the machine into swap */
    e = n < 2 ? CORO_EINVAL : coro_run(memory_body, &m, NULL, NULL);
    *reached = m.reached;
    *rss = m.rss;
    *heap = m.heap;
    *err = e != 0 ? e : m.err;
}
