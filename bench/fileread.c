/*
 * fileread.c - 4 KiB random reads from a regular file: coro_file_read from
 * tasks on the io_uring backend and on the thread-pool backend, against
 * plain blocking pread(2) in a loop, in one run.
 *
 *   fileread [-f FILE] [-s SIZE_MB=64] [-n READS=20000] [-c CONC=1,32]
 *            [-r ROUNDS=5] [-j]
 *
 * What it measures: the cost of the I/O path (system calls, the runtime's
 * submission, wake-up and task switches), not the disk. The file (random
 * bytes in $TMPDIR or /tmp, removed at exit; or the one -f names, and then
 * -s is not used) is read once in full first, so every timed read is served
 * from the page cache; a -f file larger than memory would bring the disk
 * back in.
 *
 * Design choices:
 *  - Modes. "uring" and "pool" are the same code (conc tasks, each reading
 *    a contiguous share of the offsets with coro_file_read). The pool is
 *    forced by setting CORO_IO_URING=0 for that coro_run: each loop reads
 *    the variable when it first does file I/O (src/io/uring.c; the file tests
 *    switch backends the same way), so no re-exec or subprocess is needed.
 *  - The reference is one thread calling pread(2) in a loop, at concurrency
 *    1 only, and every ratio (at every concurrency) is against it. Reads
 *    from the page cache are CPU-bound: pread from 32 threads would measure
 *    how many cores the machine has, not the I/O path, and coro's loop is
 *    one thread (the pool adds 4). A ratio below 1 at concurrency 32 is
 *    then parallelism the backend found (pool threads, the kernel).
 *  - The same offsets for every mode: 4 KiB aligned, from a fixed-seed
 *    generator. Each read's block is summed (64-bit words, mixed with its
 *    offset) and the sums added up; every run must give the value of an
 *    untimed pread pass, so a failing read cannot pass for a fast one. A
 *    failed or short read ends the program with status 1. The sum is part
 *    of every mode's timed loop (tens of ns per read, the same for all).
 *  - Rounds interleave the modes (the order rotates each round) so that
 *    drift in the machine's load spreads over all of them; each row is the
 *    median over rounds, with the min and max. Setup (opening, starting the
 *    pool or the ring, one read per task) is outside the timed part.
 *  - Which backend coro used is not in its API, so it is observed: while
 *    the loop still runs, an io_uring fd in /proc/self/fd means the ring,
 *    extra threads mean the pool. Without a ring in "uring" mode (no
 *    io_uring at run time, or a build without liburing) its rows say n/a.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"

#define BLOCK 4096
#define MAX_CONC 16     /* entries in -c */
#define MAX_TASKS 4096  /* largest concurrency */
#define MAX_ROUNDS 1000 /* largest -r */
#define SEED 0x5eed5eed2024ULL

enum { M_PREAD, M_URING, M_POOL, NMODES };
static const char *const mode_name[NMODES] = {"pread", "uring", "pool"};

typedef struct config {
    const char *path; /* -f, or NULL: make one */
    long size_mb;
    long reads;
    int conc[MAX_CONC];
    int nconc;
    int rounds;
    int json;
} config;

/* What every mode reads: the same offsets, checked against one sum. */
typedef struct workload {
    const char *path;
    int fd; /* the reference's, and the cache warm-up's */
    long long *offsets;
    long n;
    uint64_t expect; /* the sum of every block read, from pread */
} workload;

struct run;

/* One task's part of a run: offsets [from, to). */
typedef struct share {
    struct run *r;
    long from, to;
    unsigned char *buf; /* BLOCK bytes, its own */
    uint64_t sum;
    coro_task *task;
} share;

/* One coro_run: conc tasks sharing the reads. */
typedef struct run {
    const workload *w;
    int conc;
    share *shares; /* conc of them */
    int fd;
    double ns;    /* the timed part */
    uint64_t sum; /* of every share's */
    int failed;   /* the first failure: what, where, what it returned */
    const char *err_what;
    long long err_off;
    long err;    /* a negative code, or the byte count of a short read */
    int ring;    /* an io_uring fd was open while the loop ran */
    int threads; /* threads besides this one while the loop ran */
} run;

/* The timings: ns per read, [mode][concurrency index][round]. */
typedef struct results {
    double *ns[NMODES][MAX_CONC];
    int count[NMODES][MAX_CONC];
    int uring_na;     /* no ring in "uring" mode */
    int ring[NMODES]; /* what was seen in each coro mode */
    int threads[NMODES];
} results;

static char tmp_path[4096]; /* the file we made, removed at exit */

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* splitmix64: the offsets' generator and the checksum's mixer. */
static uint64_t mix(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t next_rand(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    return mix(*state);
}

/* A block's contribution to the sum: its words, mixed with where it is. */
static uint64_t block_sum(const unsigned char *buf, long long off)
{
    uint64_t s = 0, word;

    for (size_t i = 0; i < BLOCK; i += sizeof word) {
        memcpy(&word, buf + i, sizeof word);
        s += word;
    }
    return mix(s ^ (uint64_t)off);
}

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n);

    if (p == NULL) {
        fprintf(stderr, "fileread: out of memory\n");
        exit(1);
    }
    return p;
}

static unsigned char *block_alloc(void)
{
    void *p;

    if (posix_memalign(&p, BLOCK, BLOCK) != 0) {
        fprintf(stderr, "fileread: out of memory\n");
        exit(1);
    }
    memset(p, 0, BLOCK);
    return p;
}

/* ---- the file ---- */

static void remove_tmp(void)
{
    if (tmp_path[0] != '\0')
        unlink(tmp_path);
}

static void on_signal(int sig)
{
    remove_tmp();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void fill(int fd, long long size)
{
    static uint64_t chunk[1 << 17]; /* 1 MiB */
    uint64_t state = SEED ^ 0xf11e;

    for (long long done = 0; done < size;) {
        size_t n = size - done < (long long)sizeof chunk ? (size_t)(size - done) : sizeof chunk;

        for (size_t i = 0; i < sizeof chunk / sizeof chunk[0]; i++)
            chunk[i] = next_rand(&state);
        if (write(fd, chunk, n) != (ssize_t)n) {
            fprintf(stderr, "fileread: writing %s: %s\n", tmp_path, strerror(errno));
            exit(1);
        }
        done += (long long)n;
    }
}

/* Makes a file of size_mb MiB of random bytes; its path goes to tmp_path. */
static int make_file(long size_mb)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    snprintf(tmp_path, sizeof tmp_path, "%s/coro-fileread-XXXXXX", dir);
    if ((fd = mkstemp(tmp_path)) < 0) {
        fprintf(stderr, "fileread: creating %s: %s\n", tmp_path, strerror(errno));
        tmp_path[0] = '\0';
        exit(1);
    }
    atexit(remove_tmp);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fill(fd, size_mb * 1024LL * 1024LL);
    return fd;
}

/* Reads the whole file once, so that the timed reads hit the page cache. */
static void warm_cache(int fd, const char *path)
{
    static char chunk[1 << 20];
    ssize_t k;
    long long at = 0;

    while ((k = pread(fd, chunk, sizeof chunk, (off_t)at)) > 0)
        at += k;
    if (k < 0) {
        fprintf(stderr, "fileread: reading %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* ---- the reference: pread(2) in a loop ---- */

/* Reads every offset: the time taken, or -1 (reported) when a read failed
 * or was short. *sum gets the checksum. */
static double run_pread(const workload *w, unsigned char *buf, uint64_t *sum)
{
    double t0 = now_ns();
    uint64_t s = 0;

    for (long i = 0; i < w->n; i++) {
        ssize_t got = pread(w->fd, buf, BLOCK, (off_t)w->offsets[i]);

        if (got != BLOCK) {
            fprintf(stderr, "fileread: pread at %lld: %s\n", w->offsets[i],
                    got < 0 ? strerror(errno) : "short read");
            return -1;
        }
        s += block_sum(buf, w->offsets[i]);
    }
    *sum = s;
    return now_ns() - t0;
}

/* ---- coro: tasks reading with coro_file_read ---- */

static void fail(run *r, const char *what, long err, long long off)
{
    if (r->failed)
        return;
    r->failed = 1;
    r->err_what = what;
    r->err_off = off;
    r->err = err;
}

static void *reader(void *arg)
{
    share *s = arg;
    run *r = s->r;

    for (long i = s->from; i < s->to && !r->failed; i++) {
        long long off = r->w->offsets[i];
        long got = coro_file_read(r->fd, s->buf, BLOCK, off);

        if (got != BLOCK) {
            fail(r, "coro_file_read", got, off);
            break;
        }
        s->sum += block_sum(s->buf, off);
    }
    return NULL;
}

/* Runs the tasks over the reads (warm: one read each, to start the backend
 * and every task's first switch) and waits for all of them. */
static void phase(run *r, int warm)
{
    int spawned = 0, rc;

    for (int k = 0; k < r->conc; k++) {
        share *s = &r->shares[k];

        s->r = r;
        s->from = r->w->n * k / r->conc;
        s->to = warm ? s->from + 1 : r->w->n * (k + 1) / r->conc;
        s->sum = 0;
        if ((rc = coro_spawn(&s->task, reader, s, NULL)) != 0) {
            fail(r, "coro_spawn", rc, -1);
            break;
        }
        spawned++;
    }
    for (int k = 0; k < spawned; k++) {
        if ((rc = coro_await(r->shares[k].task, NULL)) != 0)
            fail(r, "coro_await", rc, -1);
        r->sum += r->shares[k].sum;
    }
}

/* What the process has while the loop runs: an io_uring fd, threads. */
static void look(run *r)
{
    DIR *d;
    struct dirent *e;
    char name[64], target[64];

    r->ring = r->threads = 0;
    if ((d = opendir("/proc/self/fd")) != NULL) {
        while ((e = readdir(d)) != NULL) {
            ssize_t k;

            snprintf(name, sizeof name, "/proc/self/fd/%.40s", e->d_name);
            k = readlink(name, target, sizeof target - 1);
            target[k > 0 ? k : 0] = '\0';
            r->ring |= strcmp(target, "anon_inode:[io_uring]") == 0;
        }
        closedir(d);
    }
    if ((d = opendir("/proc/self/task")) != NULL) {
        while ((e = readdir(d)) != NULL)
            r->threads += e->d_name[0] != '.';
        closedir(d);
        r->threads--; /* this one */
    }
}

static void *coro_main(void *arg)
{
    run *r = arg;
    double t0;
    int rc;

    if ((r->fd = coro_file_open(r->w->path, O_RDONLY, 0)) < 0) {
        fail(r, "coro_file_open", r->fd, -1);
        return NULL;
    }
    phase(r, 1);
    r->sum = 0;
    if (!r->failed) {
        t0 = now_ns();
        phase(r, 0);
        r->ns = now_ns() - t0;
    }
    look(r);
    if ((rc = coro_fd_close(r->fd)) != 0)
        fail(r, "coro_fd_close", rc, -1);
    return NULL;
}

/* An error code's message: coro's, or strerror's for an errno value coro
 * has no name for (file calls return any errno negated). */
static const char *message(int err)
{
    if (strcmp(coro_errname(err), "CORO_UNKNOWN") == 0 && err < 0 && err > -4096)
        return strerror(-err);
    return coro_strerror(err);
}

/* One run of mode M_URING or M_POOL: the time taken, or -1 (reported). */
static double run_coro(const workload *w, int mode, int conc, share *shares, run *out)
{
    run r;
    int rc;

    memset(&r, 0, sizeof r);
    r.w = w;
    r.conc = conc;
    r.shares = shares;
    r.fd = -1;
    if (mode == M_POOL ? setenv("CORO_IO_URING", "0", 1) : unsetenv("CORO_IO_URING")) {
        fprintf(stderr, "fileread: setting CORO_IO_URING: %s\n", strerror(errno));
        return -1;
    }
    rc = coro_run(coro_main, &r, NULL, NULL);
    *out = r;
    if (rc != 0) {
        fprintf(stderr, "fileread: coro_run: %s\n", coro_run_error(rc));
        return -1;
    }
    if (r.failed && r.err < 0) {
        fprintf(stderr, "fileread: %s mode: %s (offset %lld): %s\n", mode_name[mode], r.err_what,
                r.err_off, message((int)r.err));
        return -1;
    }
    if (r.failed) {
        fprintf(stderr, "fileread: %s mode: %s (offset %lld): short read, %ld bytes\n",
                mode_name[mode], r.err_what, r.err_off, r.err);
        return -1;
    }
    return r.ns;
}

/* ---- rounds ---- */

/* One mode at one concurrency, checked: ns per read; exits on failure.
 * *ring: whether that run had an io_uring. */
static double sample(const workload *w, int mode, int conc, share *shares, results *res, int *ring)
{
    uint64_t sum = 0;
    double ns;
    run r;

    memset(&r, 0, sizeof r);
    if (mode == M_PREAD) {
        ns = run_pread(w, shares[0].buf, &sum);
    } else {
        ns = run_coro(w, mode, conc, shares, &r);
        sum = r.sum;
        *ring = r.ring;
        res->ring[mode] |= r.ring;
        res->threads[mode] = r.threads > res->threads[mode] ? r.threads : res->threads[mode];
    }
    if (ns < 0)
        exit(1);
    if (sum != w->expect) {
        fprintf(stderr, "fileread: %s mode, %d tasks: checksum %016llx, expected %016llx\n",
                mode_name[mode], conc, (unsigned long long)sum, (unsigned long long)w->expect);
        exit(1);
    }
    if (mode == M_POOL && r.ring) {
        fprintf(stderr, "fileread: CORO_IO_URING=0 did not keep coro off io_uring\n");
        exit(1);
    }
    return ns / (double)w->n;
}

static void record(results *res, int mode, int ci, double ns)
{
    res->ns[mode][ci][res->count[mode][ci]++] = ns;
}

/* Every round runs pread once and each coro mode at each concurrency once,
 * starting one item later each round. */
static void measure(const config *c, const workload *w, share *shares, results *res)
{
    int items = 1 + 2 * c->nconc;

    for (int round = 0; round < c->rounds; round++) {
        for (int i = 0; i < items; i++) {
            int item = (i + round) % items;
            int mode = item == 0 ? M_PREAD : (item - 1) % 2 == 0 ? M_URING : M_POOL;
            int ci = item == 0 ? 0 : (item - 1) / 2;
            int conc = item == 0 ? 1 : c->conc[ci];
            int ring = 0;
            double ns;

            if (mode == M_URING && res->uring_na)
                continue;
            ns = sample(w, mode, conc, shares, res, &ring);
            if (mode == M_URING && !ring && res->ring[M_URING]) {
                fprintf(stderr, "fileread: coro's io_uring came and went between runs\n");
                exit(1);
            }
            if (mode == M_URING && !ring) {
                res->uring_na = 1; /* those were the pool's figures */
                continue;
            }
            record(res, mode, ci, ns);
        }
    }
}

/* ---- the report ---- */

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Median, min and max of n values (sorts them). */
static double median(double *v, int n, double *lo, double *hi)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    *lo = v[0];
    *hi = v[n - 1];
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *backend_of(const results *res, int mode)
{
    static char text[NMODES][64];

    if (mode == M_PREAD)
        return "pread";
    if (mode == M_URING && res->uring_na)
        return "n/a";
    snprintf(text[mode], sizeof text[mode], "%s%s", res->ring[mode] ? "io_uring" : "pool",
             res->ring[mode] && res->threads[mode] > 0 ? "+threads" : "");
    return text[mode];
}

static void print_row(const config *c, results *res, int mode, int ci, double ref)
{
    int conc = mode == M_PREAD ? 1 : c->conc[ci];
    int n = res->count[mode][ci];
    double lo, hi, med;

    if (n == 0) {
        if (c->json)
            printf("{\"bench\":\"fileread\",\"mode\":\"%s\",\"conc\":%d,\"ns_per_read\":null,"
                   "\"min\":null,\"max\":null,\"reads_per_s\":null,\"ratio_pread\":null,"
                   "\"backend\":\"n/a\"}\n",
                   mode_name[mode], conc);
        else
            printf("%-6s %5d %10s   (no io_uring at run time)\n", mode_name[mode], conc, "n/a");
        return;
    }
    med = median(res->ns[mode][ci], n, &lo, &hi);
    if (c->json)
        printf("{\"bench\":\"fileread\",\"mode\":\"%s\",\"conc\":%d,\"ns_per_read\":%.1f,"
               "\"min\":%.1f,\"max\":%.1f,\"reads_per_s\":%.0f,\"ratio_pread\":%.3f,"
               "\"backend\":\"%s\"}\n",
               mode_name[mode], conc, med, lo, hi, 1e9 / med, med / ref, backend_of(res, mode));
    else {
        char range[48];

        snprintf(range, sizeof range, "%.0f-%.0f", lo, hi);
        printf("%-6s %5d %10.0f %21s %10.0f %8.2f\n", mode_name[mode], conc, med, range, 1e9 / med,
               med / ref);
    }
}

static void print_header(const config *c, const workload *w, const results *res, long long size)
{
    printf("fileread: 4 KiB random reads of %s (%lld MiB, in the page cache: the I/O path, not "
           "the disk)\n",
           w->path, size >> 20);
    printf("%ld reads per run, the same offsets for every mode; %d rounds, median (min-max)\n",
           w->n, c->rounds);
    printf("coro's backend: uring mode -> %s, pool mode -> %s (%d threads); pread: 1 thread\n",
           res->uring_na ? "n/a (no io_uring at run time)" : backend_of(res, M_URING),
           backend_of(res, M_POOL), res->threads[M_POOL]);
    printf("ratio: ns per read / pread's at 1 thread (below 1: faster)\n\n");
    printf("%-6s %5s %10s %21s %10s %8s\n", "mode", "tasks", "ns/read", "min-max", "reads/s",
           "x pread");
}

static void report(const config *c, const workload *w, results *res, long long size)
{
    double lo, hi, ref;
    double copy[MAX_ROUNDS];
    int n = res->count[M_PREAD][0];

    memcpy(copy, res->ns[M_PREAD][0], (size_t)n * sizeof copy[0]);
    ref = median(copy, n, &lo, &hi);
    if (!c->json)
        print_header(c, w, res, size);
    print_row(c, res, M_PREAD, 0, ref);
    for (int ci = 0; ci < c->nconc; ci++) {
        print_row(c, res, M_URING, ci, ref);
        print_row(c, res, M_POOL, ci, ref);
    }
}

/* ---- setup ---- */

static void usage(void)
{
    fprintf(stderr, "usage: fileread [-f FILE] [-s SIZE_MB=64] [-n READS=20000] "
                    "[-c CONCURRENCY=1,32] [-r ROUNDS=5] [-j]\n");
    exit(2);
}

static long number(const char *s, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > max)
        usage();
    return v;
}

static void parse_conc(config *c, char *list)
{
    char *save = NULL;

    c->nconc = 0;
    for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (c->nconc == MAX_CONC)
            usage();
        c->conc[c->nconc++] = (int)number(t, MAX_TASKS);
    }
    if (c->nconc == 0)
        usage();
}

static void parse(config *c, int argc, char **argv)
{
    int opt;

    *c = (config){NULL, 64, 20000, {1, 32}, 2, 5, 0};
    while ((opt = getopt(argc, argv, "f:s:n:c:r:j")) != -1) {
        switch (opt) {
        case 'f':
            c->path = optarg;
            break;
        case 's':
            c->size_mb = number(optarg, 1L << 20);
            break;
        case 'n':
            c->reads = number(optarg, 100000000L);
            break;
        case 'c':
            parse_conc(c, optarg);
            break;
        case 'r':
            c->rounds = (int)number(optarg, MAX_ROUNDS);
            break;
        case 'j':
            c->json = 1;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    for (int i = 0; i < c->nconc; i++)
        if (c->conc[i] > c->reads)
            usage(); /* a task without a read */
}

/* Opens (or makes) the file, warms the cache, picks the offsets and takes
 * the reference checksum. Returns the file's size. */
static long long prepare(const config *c, workload *w, unsigned char *buf)
{
    struct stat st;
    uint64_t state = SEED;
    long long blocks;

    w->fd = c->path != NULL ? open(c->path, O_RDONLY | O_CLOEXEC) : make_file(c->size_mb);
    w->path = c->path != NULL ? c->path : tmp_path;
    if (w->fd < 0 || fstat(w->fd, &st) != 0) {
        fprintf(stderr, "fileread: %s: %s\n", w->path, strerror(errno));
        exit(1);
    }
    if ((blocks = (long long)st.st_size / BLOCK) == 0) {
        fprintf(stderr, "fileread: %s: smaller than one 4 KiB block\n", w->path);
        exit(1);
    }
    warm_cache(w->fd, w->path);
    w->n = c->reads;
    w->offsets = xmalloc((size_t)w->n * sizeof w->offsets[0]);
    for (long i = 0; i < w->n; i++)
        w->offsets[i] = (long long)(next_rand(&state) % (uint64_t)blocks) * BLOCK;
    if (run_pread(w, buf, &w->expect) < 0)
        exit(1);
    return (long long)st.st_size;
}

int main(int argc, char **argv)
{
    config c;
    workload w;
    results res;
    share *shares;
    int most = 1;
    long long size;

    parse(&c, argc, argv);
    for (int i = 0; i < c.nconc; i++)
        most = c.conc[i] > most ? c.conc[i] : most;
    shares = xmalloc((size_t)most * sizeof *shares);
    for (int k = 0; k < most; k++)
        shares[k].buf = block_alloc();
    memset(&w, 0, sizeof w);
    memset(&res, 0, sizeof res);
    size = prepare(&c, &w, shares[0].buf);
    for (int m = 0; m < NMODES; m++)
        for (int ci = 0; ci < c.nconc; ci++)
            res.ns[m][ci] = xmalloc((size_t)c.rounds * sizeof(double));
    measure(&c, &w, shares, &res);
    report(&c, &w, &res, size);
    for (int m = 0; m < NMODES; m++)
        for (int ci = 0; ci < c.nconc; ci++)
            free(res.ns[m][ci]);
    for (int k = 0; k < most; k++)
        free(shares[k].buf);
    free(shares);
    free(w.offsets);
    close(w.fd);
    return 0;
}
