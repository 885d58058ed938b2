/*
 * main.c - coro's benchmark suite: every figure measured in one run against
 * its references, interleaved round by round, pinned to one CPU, reported as
 * median with min-max and as ratios. bench/README.md says how to read it.
 *
 *   bench [-b BINDIR] [-s SRCDIR] [-r ROUNDS] [-t MS] [-c CPU] [-n]
 *         [-j JSON] [-m TABLE.md] [-d DAT]
 *   bench --run FIG KEY N     run one in-process operation N times, print ns/op
 *   bench --mem N FLAGS       hold N suspended coroutines (tasks parked in a
 *                             channel receive with BENCH_MEM_TASK in FLAGS),
 *                             print the memory
 *
 * Method. Each row is first calibrated so that one sample takes about -t
 * milliseconds. Then every round takes one sample of every row, figure by
 * figure, with each figure's row order rotated from round to round. An
 * in-process row's sample is taken in slices, the rows of the figure taking
 * turns slice by slice (A B C A B C ...), so that the samples of one round
 * see the same machine load. Rows whose implementation lives in another
 * process (Lua, LuaJIT, Go, and coro's fresh-stack create, which spoils the
 * stack pool) are sampled by spawning it; it times its own loop. Ratios are
 * taken per round (coro's sample over the reference's sample of the same
 * round), and their median reported.
 */
#define _GNU_SOURCE /* sched_setaffinity, pipe2 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"
#include "driver.h"

const figure figures[NFIGS] = {
    {BENCH_FIG_ROUNDTRIP, "(1) resume + yield round trip"},
    {BENCH_FIG_LIFECYCLE, "(2) create + first resume + run to end + destroy"},
    {BENCH_FIG_WRAP, "(4) wrap generator call"},
    {BENCH_FIG_VALUE, "(5) a value each way: resume(v), yield(v + 1), checked"},
    {BENCH_FIG_SPAWN, "(6) spawn + run + finish of a task that returns at once"},
    {BENCH_FIG_CHAN, "(7) unbuffered channel ping-pong: send v, receive v + 1"},
    {BENCH_FIG_BCHAN, "(8) buffered channel (capacity 64) ping-pong: send v, receive v + 1"},
    {BENCH_FIG_SELECT, "(9) select over 4 receive cases, one ready"},
    {BENCH_FIG_SLEEP, "(10) sleep(1 µs) by 1,000 tasks at once, per sleep"},
};

/* The rows, in the table's order; the first of each figure is the subject.
 * ROW(figure, key, label, source, subject, optional). */
#define ROW(f, k, l, s, subj, opt)                                                                 \
    {                                                                                              \
        .fig = f, .key = k, .label = l, .src = s, .subject = subj, .optional = opt                 \
    }
static row rows[] = {
    ROW(FIG_ROUNDTRIP, "coro", "coro", SRC_CORO, 1, 0),
    ROW(FIG_ROUNDTRIP, "copy1", "coro, CORO_COPY_STACK, one", SRC_CORO, 0, 1),
    ROW(FIG_ROUNDTRIP, "copy", "coro, CORO_COPY_STACK, 2 in turn", SRC_CORO, 0, 1),
    ROW(FIG_ROUNDTRIP, "floor", "floor: 6 registers, jmp", SRC_FLOOR, 0, 0),
    ROW(FIG_ROUNDTRIP, "floor-fp", "floor + MXCSR/x87 CW", SRC_FLOOR, 0, 0),
    ROW(FIG_ROUNDTRIP, "fcontext", "Boost.Context fcontext", SRC_BOOST, 0, 0),
    ROW(FIG_ROUNDTRIP, "fiber", "Boost.Context fiber", SRC_BOOST, 0, 0),
    ROW(FIG_ROUNDTRIP, "pcl", "PCL (swapcontext)", SRC_PCL, 0, 0),
    ROW(FIG_ROUNDTRIP, "lua", "Lua 5.4", SRC_LUA, 0, 0),
    ROW(FIG_ROUNDTRIP, "luajit", "LuaJIT", SRC_LUAJIT, 0, 0),
    ROW(FIG_ROUNDTRIP, "go", "Go, chan ping-pong", SRC_GO, 0, 0),

    ROW(FIG_LIFECYCLE, "pooled", "coro, pooled stack (default)", SRC_CORO, 1, 0),
    ROW(FIG_LIFECYCLE, "fresh", "coro, fresh stack (pool bypassed)", SRC_SELF, 0, 0),
    ROW(FIG_LIFECYCLE, "copy", "coro, CORO_COPY_STACK", SRC_CORO, 0, 1),
    ROW(FIG_LIFECYCLE, "floor", "floor, fixed stack", SRC_FLOOR, 0, 0),
    ROW(FIG_LIFECYCLE, "floor-fp", "floor + MXCSR/x87 CW, fixed stack", SRC_FLOOR, 0, 0),
    ROW(FIG_LIFECYCLE, "fcontext", "Boost.Context fcontext, fixed stack", SRC_BOOST, 0, 0),
    ROW(FIG_LIFECYCLE, "fiber", "Boost.Context fiber (malloc'd stack)", SRC_BOOST, 0, 0),
    ROW(FIG_LIFECYCLE, "pcl", "PCL, fixed stack", SRC_PCL, 0, 0),
    ROW(FIG_LIFECYCLE, "lua", "Lua 5.4 (incl. GC)", SRC_LUA, 0, 0),
    ROW(FIG_LIFECYCLE, "luajit", "LuaJIT (incl. GC)", SRC_LUAJIT, 0, 0),
    ROW(FIG_LIFECYCLE, "go", "Go, go f() + chan", SRC_GO, 0, 0),

    ROW(FIG_WRAP, "call", "coro_call", SRC_CORO, 1, 0),
    ROW(FIG_WRAP, "resume", "coro_resume, same generator", SRC_CORO, 0, 0),
    ROW(FIG_WRAP, "lua", "Lua 5.4 coroutine.wrap", SRC_LUA, 0, 0),
    ROW(FIG_WRAP, "luajit", "LuaJIT coroutine.wrap", SRC_LUAJIT, 0, 0),
    ROW(FIG_WRAP, "go", "Go, goroutine + chan", SRC_GO, 0, 0),

    ROW(FIG_VALUE, "coro", "coro", SRC_CORO, 1, 0),
    ROW(FIG_VALUE, "fcontext", "Boost.Context fcontext", SRC_BOOST, 0, 0),
    ROW(FIG_VALUE, "lua", "Lua 5.4", SRC_LUA, 0, 0),
    ROW(FIG_VALUE, "luajit", "LuaJIT", SRC_LUAJIT, 0, 0),
    ROW(FIG_VALUE, "go", "Go, chan ping-pong", SRC_GO, 0, 0),

    /* The runtime (ops_rt.c), each sample inside one coro_run. */
    ROW(FIG_SPAWN, "await", "coro_spawn + coro_await", SRC_CORO, 1, 0),
    ROW(FIG_SPAWN, "detached", "coro_spawn (detached) + chan recv", SRC_CORO, 0, 0),
    ROW(FIG_SPAWN, "copy", "coro_spawn + coro_await, CORO_COPY_STACK", SRC_CORO, 0, 1),
    ROW(FIG_SPAWN, "go", "Go, go f(); <-done", SRC_GO, 0, 0),

    ROW(FIG_CHAN, "coro", "coro", SRC_CORO, 1, 0),
    ROW(FIG_CHAN, "copy", "coro, partner task CORO_COPY_STACK", SRC_CORO, 0, 1),
    ROW(FIG_CHAN, "go", "Go", SRC_GO, 0, 0),

    ROW(FIG_BCHAN, "coro", "coro", SRC_CORO, 1, 0),
    ROW(FIG_BCHAN, "go", "Go", SRC_GO, 0, 0),

    ROW(FIG_SELECT, "coro", "coro_select", SRC_CORO, 1, 0),
    ROW(FIG_SELECT, "go", "Go select", SRC_GO, 0, 0),

    ROW(FIG_SLEEP, "coro", "coro_sleep", SRC_CORO, 1, 0),
    ROW(FIG_SLEEP, "go", "Go time.Sleep", SRC_GO, 0, 0),
};
static int nrows = (int)(sizeof rows / sizeof rows[0]);

static mem_row mems[] = {
    {"coro, default stacks", SRC_CORO, 0, 10000, 0, 0, 0, 0, NULL},
    {"coro, default stacks", SRC_CORO, 0, 100000, 0, 0, 0, 0, NULL},
    {"coro, default stacks", SRC_CORO, 0, 1000000, 0, 0, 0, 0, NULL},
#ifdef CORO_COPY_STACK
    {"coro, CORO_COPY_STACK", SRC_CORO, CORO_COPY_STACK, 100000, 0, 0, 0, 0, NULL},
    {"coro, CORO_COPY_STACK", SRC_CORO, CORO_COPY_STACK, 1000000, 0, 0, 0, 0, NULL},
    {"coro, CORO_COPY_STACK", SRC_CORO, CORO_COPY_STACK, 10000000, 0, 0, 0, 0, NULL},
#endif
    {"Lua 5.4", SRC_LUA, 0, 100000, 0, 0, 0, 0, NULL},
    {"Lua 5.4", SRC_LUA, 0, 1000000, 0, 0, 0, 0, NULL},
    {"LuaJIT", SRC_LUAJIT, 0, 100000, 0, 0, 0, 0, NULL},
    {"LuaJIT", SRC_LUAJIT, 0, 1000000, 0, 0, 0, 0, NULL},
    {"Go", SRC_GO, 0, 100000, 0, 0, 0, 0, NULL},
    {"Go", SRC_GO, 0, 1000000, 0, 0, 0, 0, NULL},
    /* (11): tasks parked in a channel receive. Not 1,000,000 copy-stack
     * tasks: a parked one holds 5 KB of heap, and 5 GB take 20 s. */
    {"coro, default stacks", SRC_CORO, BENCH_MEM_TASK, 10000, 0, 0, 0, 0, NULL},
    {"coro, default stacks", SRC_CORO, BENCH_MEM_TASK, 100000, 0, 0, 0, 0, NULL},
#ifdef CORO_COPY_STACK
    {"coro, CORO_COPY_STACK", SRC_CORO, BENCH_MEM_TASK | CORO_COPY_STACK, 100000, 0, 0, 0, 0, NULL},
#endif
    {"Go", SRC_GO, BENCH_MEM_TASK, 100000, 0, 0, 0, 0, NULL},
};
#define NMEMS ((int)(sizeof mems / sizeof mems[0]))

/* ---- finding the operations ---- */

static const bench_op *load_peer(const config *cf, const char *name)
{
    char path[PATH_MAX];
    void *h;
    bench_peer_fn fn;

    snprintf(path, sizeof path, "%s/%s", cf->bindir, name);
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        if (access(path, F_OK) == 0) /* built, but does not load */
            fprintf(stderr, "bench: %s\n", dlerror());
        return NULL;
    }
    fn = (bench_peer_fn)(uintptr_t)dlsym(h, BENCH_PEER_SYMBOL);
    return fn != NULL ? fn() : NULL;
}

static double (*find_op(const bench_op *ops, int fig, const char *key))(long)
{
    for (; ops != NULL && ops->name != NULL; ops++)
        if (strcmp(ops->fig, figures[fig].key) == 0 && strcmp(ops->name, key) == 0)
            return ops->run;
    return NULL;
}

/* The first line a command prints, or NULL if it does not run. */
static const char *probe_version(char *const argv[])
{
    char out[128];

    if (spawn_capture(argv, 1, 30, out, sizeof out) != 0 || out[0] == '\0')
        return NULL;
    out[strcspn(out, "\n")] = '\0';
    return strdup(out);
}

/* Fills in every row's operation, or why it has none; drops the optional
 * rows this build has no operation for. */
static void resolve(config *cf, row *rs, int *nrs, int probe)
{
    int n = *nrs, kept = 0;
    const bench_op *peer[NSOURCES] = {0};
    char *const lua[] = {"lua5.4", cf->script, "version", NULL};
    char *const luajit[] = {"luajit", cf->script, "version", NULL};
    char *const go[] = {cf->gobin, "version", NULL};

    peer[SRC_CORO] = peer[SRC_SELF] = bench_coro_ops;
    peer[SRC_FLOOR] = bench_floor_ops;
    peer[SRC_BOOST] = load_peer(cf, "peer_boost.so");
    peer[SRC_PCL] = load_peer(cf, "peer_pcl.so");
    for (const bench_op *o = peer[SRC_BOOST]; o != NULL && o->name != NULL; o++)
        if (strcmp(o->fig, "version") == 0)
            cf->version[SRC_BOOST] = o->name;
    if (probe) {
        cf->version[SRC_LUA] = probe_version(lua);
        cf->version[SRC_LUAJIT] = probe_version(luajit);
        cf->version[SRC_GO] = probe_version(go);
    }
    for (int i = 0; i < n; i++) {
        row *r = &rs[i];
        r->instr = r->sys = r->med = r->rmed = NAN;
        switch (r->src) {
        case SRC_LUA:
        case SRC_LUAJIT:
        case SRC_GO:
            if (cf->version[r->src] == NULL)
                r->na = "not installed";
            break;
        default:
            r->run = find_op(peer[r->src], r->fig, r->key);
            if (r->run == NULL && (r->src == SRC_CORO || r->src == SRC_SELF))
                r->run = find_op(bench_rt_ops, r->fig, r->key);
            if (r->run == NULL)
                r->na = r->src == SRC_FLOOR ? "x86-64 only" : "not installed";
            break;
        }
        if (!(r->optional && r->run == NULL))
            rs[kept++] = *r;
    }
    *nrs = kept;
}

/* ---- progress, on stderr: one line updated in place on a terminal ---- */

static void progress(const char *fmt, ...) CORO_PRINTF(1, 2);
static void progress(const char *fmt, ...)
{
    static int tty = -1;
    va_list ap;

    if (tty < 0)
        tty = isatty(2);
    if (!tty && fmt[0] == '\r')
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (tty && fmt[0] == '\r')
        fprintf(stderr, "\033[K");
}

/* ---- sampling ---- */

static int in_process(const row *r);

/* ns per operation for n operations of r, NAN on failure. */
static double sample(const config *cf, const row *r, long n)
{
    double ns;

    if (in_process(r)) {
        ns = r->run(n);
        return ns < 0 ? NAN : ns / (double)n;
    }
    return external_sample(cf, r, n);
}

/* Finds n so that a sample of r takes about target_ms. */
static void calibrate(const config *cf, row *r)
{
    double target = cf->target_ms * 1e6, ns = NAN;
    long n = 1000;

    for (int tries = 0; tries < 8; tries++) {
        ns = sample(cf, r, n);
        if (isnan(ns))
            break;
        if (ns * (double)n >= target / 4)
            break;
        n *= 8;
    }
    if (isnan(ns)) {
        r->na = "failed";
        return;
    }
    r->n = (long)(target / ns);
    if (r->n < 1)
        r->n = 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median, min and max of the non-NAN values of v[0..n). */
static void stats(const double *v, int n, double *med, double *lo, double *hi)
{
    double s[MAX_ROUNDS];
    int k = 0;

    for (int i = 0; i < n; i++)
        if (!isnan(v[i]))
            s[k++] = v[i];
    if (k == 0) {
        *med = *lo = *hi = NAN;
        return;
    }
    qsort(s, (size_t)k, sizeof s[0], cmp_double);
    *med = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
    *lo = s[0];
    *hi = s[k - 1];
}

static int in_process(const row *r)
{
    return r->src == SRC_CORO || r->src == SRC_FLOOR || r->src == SRC_BOOST || r->src == SRC_PCL;
}

/*
 * One round of one figure. An in-process row's sample is SLICES slices of
 * n / SLICES operations, the rows taking turns slice by slice, so that the
 * samples of a round span the same stretch of time and their ratio sees
 * the same load. A row in another process takes its sample in one go.
 */
#define MAX_FIG_ROWS 32
static void sample_figure(const config *cf, int f, int round)
{
    row *fr[MAX_FIG_ROWS];
    double ns[MAX_FIG_ROWS] = {0}, ops[MAX_FIG_ROWS] = {0};
    int count = 0;

    for (int i = 0; i < nrows && count < MAX_FIG_ROWS; i++)
        if (rows[i].fig == f && rows[i].na == NULL)
            fr[count++] = &rows[i];
    for (int s = 0; s < SLICES; s++)
        for (int j = 0; j < count; j++) {
            int k = (j + round + s) % count;
            long n = fr[k]->n / SLICES > 0 ? fr[k]->n / SLICES : 1;
            double t;
            if (!in_process(fr[k]))
                continue;
            t = fr[k]->run(n);
            ns[k] = t < 0 || isnan(ns[k]) ? NAN : ns[k] + t;
            ops[k] += (double)n;
        }
    for (int j = 0; j < count; j++) {
        row *r = fr[(j + round) % count];
        if (in_process(r))
            r->ns[r->nsamples++] = ns[(j + round) % count] / ops[(j + round) % count];
        else
            r->ns[r->nsamples++] = external_sample(cf, r, r->n);
    }
}

static void run_rounds(const config *cf)
{
    progress("bench: %d interleaved rounds\n", cf->rounds);
    for (int round = 0; round < cf->rounds; round++) {
        progress("\rbench: round %d/%d", round + 1, cf->rounds);
        for (int f = 0; f < NFIGS; f++)
            sample_figure(cf, f, round);
    }
    progress("\r");
}

static void summarise(void)
{
    for (int i = 0; i < nrows; i++) {
        row *r = &rows[i], *s = NULL;
        double ratio[MAX_ROUNDS];

        if (r->na != NULL)
            continue;
        stats(r->ns, r->nsamples, &r->med, &r->lo, &r->hi);
        if (isnan(r->med)) {
            r->na = "failed";
            continue;
        }
        for (int j = 0; j < nrows; j++)
            if (rows[j].fig == r->fig && rows[j].subject)
                s = &rows[j];
        if (s == NULL || s->na != NULL)
            continue;
        for (int k = 0; k < r->nsamples; k++)
            ratio[k] = s->ns[k] / r->ns[k];
        stats(ratio, r->nsamples, &r->rmed, &r->rlo, &r->rhi);
    }
}

static void count_all(const config *cf)
{
    for (int i = 0; i < nrows; i++) {
        row *r = &rows[i];
        long n1 = COUNT_N1, n2 = r->src == SRC_SELF ? COUNT_N2_SLOW : COUNT_N2;

        if (r->na != NULL)
            continue;
        progress("\rbench: counting: %s, %s", figures[r->fig].key, r->label);
        r->instr = count_instructions(cf, r, n1, n2);
        r->sys = count_syscalls(cf, r, n1, n2);
    }
    progress("\r");
}

static void measure_all_memory(const config *cf)
{
    for (int i = 0; i < NMEMS; i++) {
        mem_row *m = &mems[i];
        if (m->src != SRC_CORO && cf->version[m->src] == NULL) {
            m->per = m->heap = NAN;
            m->note = "not installed";
            continue;
        }
        progress("\rbench: memory: %s x %ld", m->label, m->asked);
        measure_memory(cf, m);
    }
    progress("\r");
}

/* ---- the one-operation modes ---- */

/* --run FIG KEY N: what the spawned samples and the counters run. */
static int run_one(config *cf, const char *fig, const char *key, long n)
{
    resolve(cf, rows, &nrows, 0);
    for (int i = 0; i < nrows; i++) {
        row *r = &rows[i];
        if (strcmp(figures[r->fig].key, fig) == 0 && strcmp(r->key, key) == 0 && r->run != NULL) {
            double ns = r->run(n);
            if (ns < 0)
                return 1;
            printf("%.4f\n", ns / (double)n);
            return 0;
        }
    }
    fprintf(stderr, "bench: no in-process operation %s %s\n", fig, key);
    return 2;
}

/* --mem N FLAGS: prints "reached resident_bytes heap_bytes error", the
 * bytes per coroutine. */
static int mem_one(long n, unsigned flags)
{
    long reached;
    double rss, heap;
    int err;

    if (flags & BENCH_MEM_TASK)
        bench_rt_memory(n, flags & ~BENCH_MEM_TASK, &reached, &rss, &heap, &err);
    else
        bench_coro_memory(n, flags, &reached, &rss, &heap, &err);
    printf("%ld %.1f %.1f %d\n", reached, rss, heap, err);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench [-b BINDIR] [-s SRCDIR] [-r ROUNDS] [-t MS] [-c CPU] [-n]\n"
                    "             [-j JSON] [-m TABLE.md] [-d DAT]\n"
                    "       bench --run FIG KEY N | --mem N FLAGS\n");
    exit(2);
}

static char *join(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);

    if (p == NULL)
        abort();
    snprintf(p, n, "%s/%s", dir, file);
    return p;
}

int main(int argc, char **argv)
{
    static char self[PATH_MAX], bindir[PATH_MAX];
    const char *srcdir = "bench";
    config cf = {0};
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    int i;

    if (k <= 0)
        return 1;
    self[k] = '\0';
    snprintf(bindir, sizeof bindir, "%s", self);
    *strrchr(bindir, '/') = '\0';
    cf.self = self;
    cf.bindir = bindir;
    cf.rounds = 31;
    cf.target_ms = 20;
    cf.cpu = -1;
    cf.counts = 1;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--run") == 0 && i + 3 < argc) {
            cf.gobin = join(cf.bindir, "peer_go");
            cf.script = join(srcdir, "peer.lua");
            return run_one(&cf, argv[i + 1], argv[i + 2], atol(argv[i + 3]));
        }
        if (strcmp(o, "--mem") == 0 && i + 2 < argc)
            return mem_one(atol(argv[i + 1]), (unsigned)strtoul(argv[i + 2], NULL, 0));
        if (strcmp(o, "-n") == 0) {
            cf.counts = 0;
            continue;
        }
        if (i + 1 >= argc || o[1] == '\0' || o[2] != '\0')
            usage();
        switch (o[1]) {
        case 'b':
            cf.bindir = argv[++i];
            break;
        case 's':
            srcdir = argv[++i];
            break;
        case 'r':
            cf.rounds = atoi(argv[++i]);
            break;
        case 't':
            cf.target_ms = atof(argv[++i]);
            break;
        case 'c':
            cf.cpu = atoi(argv[++i]);
            break;
        case 'j':
            cf.json = argv[++i];
            break;
        case 'd':
            cf.dat = argv[++i];
            break;
        case 'm':
            cf.md = argv[++i];
            break;
        default:
            usage();
        }
    }
    if (i != argc || cf.rounds < 1 || cf.rounds > MAX_ROUNDS || cf.target_ms <= 0)
        usage();
    cf.script = join(srcdir, "peer.lua");
    cf.gobin = join(cf.bindir, "peer_go");
    setenv("GOMAXPROCS", "1", 1);

    describe_machine(&cf);
    pin(&cf);
    resolve(&cf, rows, &nrows, 1);
    progress("bench: calibrating %d rows, %.0f ms a sample\n", nrows, cf.target_ms);
    for (i = 0; i < nrows; i++)
        if (rows[i].na == NULL)
            calibrate(&cf, &rows[i]);
    run_rounds(&cf);
    summarise();
    if (cf.counts) {
        cf.counter = probe_counter();
        progress("bench: counting instructions (%s) and system calls (strace)\n",
                 cf.counter ? cf.counter : "no counter");
        count_all(&cf);
    }
    progress("bench: memory per suspended coroutine\n");
    measure_all_memory(&cf);

    report_table(stdout, &cf, rows, nrows, mems, NMEMS);
    if (cf.md != NULL) {
        FILE *f = fopen(cf.md, "w");
        if (f == NULL) {
            perror(cf.md);
            return 1;
        }
        report_table(f, &cf, rows, nrows, mems, NMEMS);
        if (fclose(f) != 0)
            return 1;
    }
    if (cf.json != NULL && report_json(&cf, rows, nrows, mems, NMEMS) != 0)
        return 1;
    if (cf.dat != NULL && report_dat(&cf, rows, nrows, mems, NMEMS) != 0)
        return 1;
    return 0;
}
