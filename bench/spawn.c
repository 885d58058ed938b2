/*
 * spawn.c - everything the driver measures in another process: samples of
 * the interpreted and Go peers (and of coro's operations that must run
 * alone), instruction counts (perf stat, else callgrind), system call
 * counts (strace) and memory per suspended coroutine; and the machine the
 * run is on.
 *
 * Counts are taken as the difference between two runs of different loop
 * lengths, divided by the difference in iterations: start-up, setup and
 * teardown cancel out, and what is left is exact and does not drift with
 * the machine's load.
 */
#define _GNU_SOURCE /* sched_setaffinity, pipe2 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "driver.h"

extern char **environ;

/*
 * Runs argv (searched in PATH) and captures what it writes to fd `which`
 * (1 or 2) into out (NUL-terminated, cut at cap). With which == 1 its stderr
 * is the driver's; with which == 2 its stdout goes to /dev/null. Kills it
 * after timeout_s seconds. Returns its exit status, or -1 if it could not
 * run, was killed or timed out.
 */
int spawn_capture(char *const argv[], int which, double timeout_s, char *out, size_t cap)
{
    posix_spawn_file_actions_t fa;
    int fds[2], status = 0, timed_out = 0;
    size_t len = 0;
    pid_t pid;
    double deadline = bench_now_ns() + timeout_s * 1e9;

    out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], which);
    if (which == 2)
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        double left_ms = (deadline - bench_now_ns()) / 1e6;
        char buf[4096];
        ssize_t k;

        if (left_ms <= 0 || poll(&p, 1, (int)left_ms + 1) == 0) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        k = read(fds[0], buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        for (ssize_t i = 0; i < k && len + 1 < cap; i++)
            out[len++] = buf[i];
        out[len] = '\0';
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        fprintf(stderr, "bench: %s timed out after %.0f s\n", argv[0], timeout_s);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The command that runs `n` operations of r and prints ns per operation.
 * nbuf holds the number's text (32 bytes). */
void build_argv(const config *cf, const row *r, long n, const char **argv, char *nbuf)
{
    const char *fig = figures[r->fig].key;
    int k = 0;

    snprintf(nbuf, 32, "%ld", n);
    switch (r->src) {
    case SRC_LUA:
    case SRC_LUAJIT:
        argv[k++] = r->src == SRC_LUA ? "lua5.4" : "luajit";
        argv[k++] = cf->script;
        argv[k++] = fig;
        break;
    case SRC_GO:
        argv[k++] = cf->gobin;
        argv[k++] = fig;
        break;
    default: /* the driver itself, running just this operation */
        argv[k++] = cf->self;
        argv[k++] = "-b";
        argv[k++] = cf->bindir;
        argv[k++] = "--run";
        argv[k++] = fig;
        argv[k++] = r->key;
        break;
    }
    argv[k++] = nbuf;
    argv[k] = NULL;
}

/* One sample of an out-of-process row: ns per operation, NAN on failure. */
double external_sample(const config *cf, const row *r, long n)
{
    const char *argv[16];
    char nbuf[32], out[256], *end;
    double v;

    build_argv(cf, r, n, argv, nbuf);
    if (spawn_capture((char *const *)argv, 1, 120, out, sizeof out) != 0)
        return NAN;
    v = strtod(out, &end);
    return end == out || v <= 0 ? NAN : v;
}

/* ---- counting ---- */

static int temp_file(char *path)
{
    int fd;

    strcpy(path, "/tmp/coro-bench-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static char *read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t k;

    if (f == NULL)
        return NULL;
    k = fread(buf, 1, cap - 1, f);
    buf[k] = '\0';
    fclose(f);
    return buf;
}

/* Runs prefix + argv and returns the count the prefix's tool reported. */
typedef double (*count_fn)(char *const argv[]);

/* perf stat -x, writes "count,unit,event,..." lines. */
static double count_perf(char *const argv[])
{
    const char *full[32];
    char tmp[64], out[256], text[4096], *line;
    int k = 0;
    double v = NAN;

    if (temp_file(tmp) != 0)
        return NAN;
    full[k++] = "perf";
    full[k++] = "stat";
    full[k++] = "-x,";
    full[k++] = "-e";
    full[k++] = "instructions:u";
    full[k++] = "-o";
    full[k++] = tmp;
    full[k++] = "--";
    for (int i = 0; argv[i] != NULL && k < 31; i++)
        full[k++] = argv[i];
    full[k] = NULL;
    if (spawn_capture((char *const *)full, 2, 300, out, sizeof out) == 0 &&
        read_file(tmp, text, sizeof text) != NULL) {
        for (line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"))
            if (strstr(line, "instructions") != NULL) {
                char *end;
                double c = strtod(line, &end);
                if (end != line)
                    v = c;
            }
    }
    unlink(tmp);
    return v;
}

/* callgrind ends with "==pid== Collected : <Ir>" on stderr. */
static double count_callgrind(char *const argv[])
{
    const char *full[32];
    static char out[1 << 16];
    char *p;
    int k = 0;

    full[k++] = "valgrind";
    full[k++] = "--tool=callgrind";
    full[k++] = "--callgrind-out-file=/dev/null";
    for (int i = 0; argv[i] != NULL && k < 31; i++)
        full[k++] = argv[i];
    full[k] = NULL;
    if (spawn_capture((char *const *)full, 2, 300, out, sizeof out) != 0)
        return NAN;
    p = strstr(out, "Collected :");
    return p != NULL ? strtod(p + strlen("Collected :"), NULL) : NAN;
}

/* strace -c's summary ends with a "total" line whose 4th column is calls. */
static double count_strace(char *const argv[])
{
    const char *full[32];
    char tmp[64], out[256], text[16384], *line, *total = NULL;
    int k = 0;
    double v = NAN;

    if (temp_file(tmp) != 0)
        return NAN;
    full[k++] = "strace";
    full[k++] = "-f";
    full[k++] = "-c";
    full[k++] = "-o";
    full[k++] = tmp;
    for (int i = 0; argv[i] != NULL && k < 31; i++)
        full[k++] = argv[i];
    full[k] = NULL;
    if (spawn_capture((char *const *)full, 2, 300, out, sizeof out) == 0 &&
        read_file(tmp, text, sizeof text) != NULL) {
        for (line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"))
            if (strstr(line, " total") != NULL)
                total = line;
        if (total != NULL) {
            double col[4];
            char *p = total;
            int i;
            for (i = 0; i < 4; i++) {
                char *end;
                col[i] = strtod(p, &end);
                if (end == p)
                    break;
                p = end;
            }
            if (i == 4)
                v = col[3];
        }
    }
    unlink(tmp);
    return v;
}

static double difference(const config *cf, const row *r, long n1, long n2, count_fn count)
{
    const char *argv[16];
    char nbuf[32];
    double c1, c2;

    build_argv(cf, r, n1, argv, nbuf);
    c1 = count((char *const *)argv);
    build_argv(cf, r, n2, argv, nbuf);
    c2 = count((char *const *)argv);
    if (isnan(c1) || isnan(c2))
        return NAN;
    return (c2 - c1) / (double)(n2 - n1);
}

/* Which instruction counter works here: "perf stat" (hardware counters
 * reachable, often not in a VM), else "callgrind", else NULL. */
const char *probe_counter(void)
{
    char *const t[] = {"true", NULL};
    char out[64];
    const char *v[] = {"valgrind", "--version", NULL};

    if (!isnan(count_perf(t)))
        return "perf stat";
    if (spawn_capture((char *const *)v, 1, 30, out, sizeof out) == 0)
        return "callgrind";
    return NULL;
}

double count_instructions(const config *cf, const row *r, long n1, long n2)
{
    if (cf->counter == NULL)
        return NAN;
    if (strcmp(cf->counter, "perf stat") == 0)
        return difference(cf, r, n1, n2, count_perf);
    if (r->src == SRC_GO) /* valgrind does not run Go's runtime reliably */
        return NAN;
    return difference(cf, r, n1, n2, count_callgrind);
}

double count_syscalls(const config *cf, const row *r, long n1, long n2)
{
    return difference(cf, r, n1, n2, count_strace);
}

/* ---- memory ---- */

/* Fills m from a fresh process holding m->asked suspended coroutines. */
void measure_memory(const config *cf, mem_row *m)
{
    const char *argv[8];
    char nbuf[32], pbuf[32], out[256];
    int k = 0;

    snprintf(nbuf, sizeof nbuf, "%ld", m->asked);
    /* the peers take the page size, coro the coro_options flags */
    if (m->src == SRC_CORO)
        snprintf(pbuf, sizeof pbuf, "%#x", m->flags);
    else
        snprintf(pbuf, sizeof pbuf, "%ld", cf->page);
    m->per = m->heap = NAN;
    m->reached = 0;
    m->err = 0;
    switch (m->src) {
    case SRC_LUA:
    case SRC_LUAJIT:
        argv[k++] = m->src == SRC_LUA ? "lua5.4" : "luajit";
        argv[k++] = cf->script;
        argv[k++] = "mem";
        break;
    case SRC_GO:
        argv[k++] = cf->gobin;
        argv[k++] = "mem";
        break;
    default:
        argv[k++] = cf->self;
        argv[k++] = "--mem";
        break;
    }
    argv[k++] = nbuf;
    argv[k++] = pbuf;
    argv[k] = NULL;
    if (spawn_capture((char *const *)argv, 1, 300, out, sizeof out) != 0) {
        m->note = "failed";
        return;
    }
    if (m->src == SRC_CORO) {
        double rss, heap;
        if (sscanf(out, "%ld %lf %lf %d", &m->reached, &rss, &heap, &m->err) == 4 && rss > 0) {
            m->per = rss;
            m->heap = heap;
        }
    } else {
        m->per = strtod(out, NULL);
        m->reached = m->asked;
    }
}

/* ---- the machine ---- */

/* Fills in the machine, the date, the page size and vm.max_map_count. */
void describe_machine(config *cf)
{
    FILE *f = popen("lscpu 2>/dev/null", "r");
    char line[256], model[96] = "unknown CPU";
    time_t now = time(NULL);

    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "Model name:", 11) == 0) {
            char *p = line + 11;
            p += strspn(p, " \t");
            p[strcspn(p, "\n")] = '\0';
            snprintf(model, sizeof model, "%s", p);
        }
    if (f != NULL)
        pclose(f);
    snprintf(cf->machine, sizeof cf->machine, "%s, %ld cores", model,
             sysconf(_SC_NPROCESSORS_ONLN));
    strftime(cf->date, sizeof cf->date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    cf->page = sysconf(_SC_PAGESIZE);
    cf->max_map_count = 0;
    f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &cf->max_map_count) != 1)
            cf->max_map_count = 0;
        fclose(f);
    }
}

/* Pins the process to cf->cpu (-1: CPU 1, or 0 on one core); -1 if it cannot. */
void pin(config *cf)
{
    cpu_set_t set;

    if (cf->cpu < 0)
        cf->cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;
    CPU_ZERO(&set);
    CPU_SET(cf->cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        fprintf(stderr, "bench: cannot pin to CPU %d: %s\n", cf->cpu, strerror(errno));
        cf->cpu = -1;
    }
}
