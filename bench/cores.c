/*
 * cores.c - figures across cores, side by side in one run: the spin floor
 * (two threads on two CPUs handing a token back and forth through one
 * atomic, no kernel: the physical cost of a cross-core round trip), a task
 * spawned on another loop and awaited, an unbuffered channel ping-pong
 * between tasks of two loops, a function posted to a loop from a thread of
 * the program's own and acknowledged, and a CPU-bound mix of 10,000 tasks
 * of 100 us placed by load, each sending its result on one channel, on one
 * loop and on two. Each figure is the
 * median of ROUNDS rounds, the rows taking turns; every row's ratio to the
 * floor of the same run is printed beside it, with the CPU time its threads
 * used per operation (a loop that spins before it sleeps shows here).
 *
 *   build/gcc/bench/coro-bench-cores [rounds] [ops per sample] [peer_go]
 *
 * With the path of bench/peer_go.go's binary, Go's `go f(); <-done` and an
 * unbuffered channel ping-pong with GOMAXPROCS=2 are rows too (a process
 * per sample, on the same two CPUs).
 * Needs two CPUs; loop 0 and the floor's first thread run on the first
 * allowed CPU, the other side on the second.
 */
#define _GNU_SOURCE 1
#include <coro.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS_MAX 101

static long ops = 20000;
static int cpu_a, cpu_b;
static cpu_set_t allowed; /* the process's CPUs: each row starts from them */

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The CPU time of this process and of its children that ended. */
static double cpu_ns(void)
{
    struct rusage ru, rc;

    getrusage(RUSAGE_SELF, &ru);
    getrusage(RUSAGE_CHILDREN, &rc);
    return ((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + rc.ru_utime.tv_sec +
                     rc.ru_stime.tv_sec)) *
               1e9 +
           ((double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec + rc.ru_utime.tv_usec +
                     rc.ru_stime.tv_usec)) *
               1e3;
}

static void pin(int cpu)
{
    cpu_set_t one;

    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

static void unpin(void)
{
    (void)pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
}

/* ---- the floor: one atomic, two spinning threads ---- */

static long token;

static void *floor_peer(void *arg)
{
    (void)arg;
    pin(cpu_b);
    for (long i = 0; i < ops; i++) {
        while (__atomic_load_n(&token, __ATOMIC_ACQUIRE) != 2 * i + 1)
            ;
        __atomic_store_n(&token, 2 * i + 2, __ATOMIC_RELEASE);
    }
    return NULL;
}

static double run_floor(void)
{
    pthread_t th;
    double t0;

    token = 0;
    pin(cpu_a);
    pthread_create(&th, NULL, floor_peer, NULL);
    t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        __atomic_store_n(&token, 2 * i + 1, __ATOMIC_RELEASE);
        while (__atomic_load_n(&token, __ATOMIC_ACQUIRE) != 2 * i + 2)
            ;
    }
    t0 = now_ns() - t0;
    pthread_join(th, NULL);
    unpin();
    return t0 / (double)ops;
}

/* ---- spawn on another loop + await ---- */

static void *nothing(void *arg)
{
    return arg;
}

static double elapsed;

static void *spawn_main(void *arg)
{
    coro_task_options o = {NULL, 0, NULL, 0, coro_loop_at(1)};
    double t0 = now_ns();

    (void)arg;
    for (long i = 0; i < ops; i++) {
        coro_task *t;
        if (coro_spawn(&t, nothing, NULL, &o) != 0 || coro_await(t, NULL) != 0)
            abort();
    }
    elapsed = now_ns() - t0;
    return NULL;
}

static double run_spawn(void)
{
    coro_run_options two = {CORO_RUN_PIN, 0, 0, 0, 2, 0};

    if (coro_run(spawn_main, NULL, NULL, &two) != 0)
        abort();
    return elapsed / (double)ops;
}

/* ---- an unbuffered channel ping-pong between tasks of two loops ---- */

static coro_chan *ping, *pong;

static void *ponger(void *arg)
{
    long v;

    (void)arg;
    while (coro_chan_recv(ping, &v) == 0) {
        v++;
        if (coro_chan_send(pong, &v) != 0)
            abort();
    }
    return NULL;
}

static void *pingpong_main(void *arg)
{
    coro_task_options o = {NULL, 0, NULL, 0, coro_loop_at(1)};
    coro_task *t;
    double t0;
    long v;

    (void)arg;
    if (coro_chan_open(&ping, sizeof(long), 0) != 0 ||
        coro_chan_open(&pong, sizeof(long), 0) != 0 || coro_spawn(&t, ponger, NULL, &o) != 0)
        abort();
    v = -1; /* the first round trip shares the channels: not timed */
    if (coro_chan_send(ping, &v) != 0 || coro_chan_recv(pong, &v) != 0)
        abort();
    t0 = now_ns();
    for (long i = 0; i < ops; i++)
        if (coro_chan_send(ping, &i) != 0 || coro_chan_recv(pong, &v) != 0 || v != i + 1)
            abort();
    elapsed = now_ns() - t0;
    if (coro_chan_close(ping) != 0 || coro_await(t, NULL) != 0)
        abort();
    coro_chan_free(ping);
    coro_chan_free(pong);
    return NULL;
}

static double run_pingpong(void)
{
    coro_run_options two = {CORO_RUN_PIN, 0, 0, 0, 2, 0};

    if (coro_run(pingpong_main, NULL, NULL, &two) != 0)
        abort();
    unpin();
    return elapsed / (double)ops;
}

/* ---- a post from a thread of our own, acknowledged ---- */

static coro_remote *remote;
static long acked;

static void *ack(void *arg)
{
    __atomic_store_n(&acked, (long)(intptr_t)arg, __ATOMIC_RELEASE);
    return NULL;
}

static void *poster(void *arg)
{
    double t0;

    (void)arg;
    pin(cpu_b);
    t0 = now_ns();
    for (long i = 1; i <= ops; i++) {
        if (coro_post(remote, ack, (void *)(intptr_t)i) != 0)
            abort();
        while (__atomic_load_n(&acked, __ATOMIC_ACQUIRE) != i)
            ;
    }
    elapsed = now_ns() - t0;
    return NULL;
}

static void *post_main(void *arg)
{
    pthread_t th;

    (void)arg;
    pin(cpu_a);
    acked = 0;
    if (coro_remote_open(&remote) != 0)
        abort();
    pthread_create(&th, NULL, poster, NULL);
    while (__atomic_load_n(&acked, __ATOMIC_ACQUIRE) != ops)
        coro_sleep(CORO_MSEC(1)); /* the loop sleeps between posts but for this */
    pthread_join(th, NULL);
    coro_remote_close(remote);
    return NULL;
}

static double run_post(void)
{
    if (coro_run(post_main, NULL, NULL, NULL) != 0)
        abort();
    unpin();
    return elapsed / (double)ops;
}

/* ---- a CPU-bound mix: MIX tasks of 100 us each, on 1 loop and on 2,
 * each sending its result on a channel main receives from ---- */

#define MIX 10000

static coro_chan *results;

/* 100 us of arithmetic, no system call; its result goes to main. */
static void *burn(void *arg)
{
    double end = now_ns() + 100000;
    unsigned long long x = (unsigned long long)(uintptr_t)arg | 1;

    while (now_ns() < end)
        for (int i = 0; i < 256; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
    if (coro_chan_send(results, &x) != 0)
        abort();
    return NULL;
}

static void *mix_main(void *arg)
{
    coro_task_options any = {NULL, 0, NULL, CORO_ANY_LOOP, NULL};
    unsigned long long x, sum = 0;
    coro_group *g;
    double t0 = now_ns();

    (void)arg;
    /* Room for every result: a sender never waits for main, which shares
     * loop 0 with thousands of ready tasks and gets its turn once per round
     * of them (a small buffer would hold loop 1's tasks up for that long). */
    if (coro_group_open(&g) != 0 || coro_chan_open(&results, sizeof x, MIX) != 0)
        abort();
    any.group = g;
    for (long i = 0; i < MIX; i++)
        if (coro_spawn(NULL, burn, (void *)(uintptr_t)i, &any) != 0)
            abort();
    for (long i = 0; i < MIX; i++) {
        if (coro_chan_recv(results, &x) != 0)
            abort();
        sum += x;
    }
    if (coro_group_wait(g) != 0)
        abort();
    elapsed = now_ns() - t0;
    coro_chan_free(results);
    return (void *)(uintptr_t)(sum & 1);
}

/* The wall time per task. */
static double run_mix(int loops)
{
    coro_run_options o = {CORO_RUN_PIN, 0, 0, 0, loops, 0};

    if (coro_run(mix_main, NULL, NULL, &o) != 0)
        abort();
    unpin();
    return elapsed / MIX;
}

static double run_mix1(void)
{
    return run_mix(1);
}

static double run_mix2(void)
{
    return run_mix(2);
}

/* ---- Go with GOMAXPROCS=2, when its peer is built ---- */

static const char *peer_go;

/* peer_go's ns per op for op, in a process of its own on both CPUs. */
static double run_go(const char *op)
{
    char cmd[4096];
    double ns = 0;
    FILE *p;

    snprintf(cmd, sizeof cmd, "GOMAXPROCS=2 taskset -c %d,%d '%s' %s %ld", cpu_a, cpu_b, peer_go,
             op, ops);
    if ((p = popen(cmd, "r")) == NULL || fscanf(p, "%lf", &ns) != 1)
        ns = 0;
    if (p != NULL)
        pclose(p);
    return ns;
}

static double run_go_spawn(void)
{
    return run_go("spawn");
}

static double run_go_chan(void)
{
    return run_go("chan");
}

/* ---- the table ---- */

typedef struct row {
    const char *name;
    double (*run)(void);
    long per; /* operations per sample: ops, or MIX */
    double ns[ROUNDS_MAX], cpu[ROUNDS_MAX];
} row;

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    double s[ROUNDS_MAX];

    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp);
    return s[n / 2];
}

int main(int argc, char **argv)
{
    row rows[] = {
        {"spin floor: two threads, one atomic", run_floor, 0, {0}, {0}},
        {"coro: spawn on another loop + await", run_spawn, 0, {0}, {0}},
        {"coro: unbuffered ping-pong, two loops", run_pingpong, 0, {0}, {0}},
        {"coro: coro_post from a thread + ack", run_post, 0, {0}, {0}},
        {"CPU-bound mix (100 us tasks), 1 loop", run_mix1, MIX, {0}, {0}},
        {"CPU-bound mix, 2 loops, CORO_ANY_LOOP", run_mix2, MIX, {0}, {0}},
        {"Go, GOMAXPROCS=2: go f(); <-done", run_go_spawn, 0, {0}, {0}},
        {"Go, GOMAXPROCS=2: unbuffered ping-pong", run_go_chan, 0, {0}, {0}},
    };
    int nrows = (int)(sizeof rows / sizeof rows[0]), rounds = 11, seen = 0;
    double floor_ns;
    char *end;

    if (argc > 1 && (rounds = (int)strtol(argv[1], &end, 10), *end != '\0'))
        rounds = 0;
    if (argc > 2 && (ops = strtol(argv[2], &end, 10), *end != '\0'))
        ops = 0;
    if (rounds < 1 || rounds > ROUNDS_MAX || ops < 1 || ops > 100000000) {
        fprintf(stderr, "usage: coro-bench-cores [rounds 1-%d] [ops >= 1] [peer_go]\n", ROUNDS_MAX);
        return 2;
    }
    if (argc > 3 && access(argv[3], X_OK) == 0)
        peer_go = argv[3];
    else
        nrows -= 2; /* the Go rows are last */
    sched_getaffinity(0, sizeof allowed, &allowed);
    for (int c = 0; c < CPU_SETSIZE && seen < 2; c++)
        if (CPU_ISSET(c, &allowed))
            *(seen++ == 0 ? &cpu_a : &cpu_b) = c;
    if (seen < 2) {
        fprintf(stderr, "coro-bench-cores: needs two CPUs\n");
        return 2;
    }
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < nrows; i++) {
            int k = (r % 2 == 0) ? i : nrows - 1 - i; /* order alternates */
            double c0 = cpu_ns();
            rows[k].ns[r] = rows[k].run();
            rows[k].cpu[r] = (cpu_ns() - c0) / (double)(rows[k].per > 0 ? rows[k].per : ops);
        }
    floor_ns = median(rows[0].ns, rounds);
    printf("%-40s %12s %10s %14s\n", "across two cores (median of rounds)", "ns per op", "x floor",
           "CPU ns per op");
    for (int i = 0; i < nrows; i++) {
        double m = median(rows[i].ns, rounds);
        if (rows[i].per > 0) /* the mix: its ratio is to the 1-loop row, printed after */
            printf("%-40s %12.1f %10s %14.1f\n", rows[i].name, m, "", median(rows[i].cpu, rounds));
        else
            printf("%-40s %12.1f %10.2f %14.1f\n", rows[i].name, m, m / floor_ns,
                   median(rows[i].cpu, rounds));
    }
    printf("CPU-bound mix: 2 loops take %.3fx the wall time of 1\n",
           median(rows[5].ns, rounds) / median(rows[4].ns, rounds));
    printf("(%d rounds of %ld operations, CPUs %d and %d)\n", rounds, ops, cpu_a, cpu_b);
    return 0;
}
