/*
 * runner.c - main() of every test binary.
 *
 *   test_x            run every test, each in a forked child with a timeout
 *   test_x NAME...    run the named tests in this process (for a debugger)
 *   test_x -l         list the tests
 *
 * After a test returns, the child drains the stack pool (and forgets the
 * main coroutine's last caught error) and checks that the
 * coroutine allocations and mappings are back where they were before the
 * test, and that the same fds are open: nothing leaked. Prints "ok - name" / "FAIL - name" per test
 * and a summary line "# <binary>: N ok, N failing". CORO_TEST_TIMEOUT sets the per-test timeout in
 * seconds (default 60).
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

#define MAX_TESTS 512

static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int ntests;

void test_register(const char *name, test_fn fn)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: failed: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(NULL);
    _exit(1);
}

void *await_failure_at(coro_fn fn, const char *msg, const char *file, int line)
{
    coro_task *t;
    void *value = NULL;
    const char *got;
    int rc = coro_spawn_at(&t, fn, NULL, NULL, file, line);

    if (rc != 0)
        test_fail(file, line, "coro_spawn: %s", coro_errname(rc));
    rc = coro_await(t, &value);
    if (rc != CORO_EERROR)
        test_fail(file, line, "coro_await: %s, not CORO_EERROR", coro_errname(rc));
    got = coro_errmsg(coro_running(NULL));
    if (got == NULL || strcmp(got, msg) != 0)
        test_fail(file, line, "error \"%s\" != \"%s\"", got != NULL ? got : "(null)", msg);
    return value;
}

char log_buf[256];

void log_add(const char *s)
{
    size_t n = strlen(log_buf);

    CHECK(n + strlen(s) < sizeof log_buf);
    memcpy(log_buf + n, s, strlen(s) + 1);
}

void log_cleanup(void *arg)
{
    log_add(arg);
}

void close_all(int fd, ...)
{
    va_list ap;

    va_start(ap, fd);
    for (; fd != -1; fd = va_arg(ap, int))
        CHECK_ERR(coro_fd_close(fd), 0);
    va_end(ap);
}

double test_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void test_busy(double seconds)
{
    double end = test_seconds() + seconds;

    while (test_seconds() < end)
        ;
}

char test_captured[8192];

int test_run_capturing(coro_fn fn, void *arg, const coro_run_options *opt)
{
    FILE *tmp = tmpfile();
    int saved = dup(2), rc;
    size_t n;

    CHECK(tmp != NULL && saved >= 0);
    fflush(stderr);
    dup2(fileno(tmp), 2);
    rc = coro_run(fn, arg, NULL, opt);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    n = fread(test_captured, 1, sizeof test_captured - 1, tmp);
    test_captured[n] = '\0';
    fclose(tmp);
    return rc;
}

coro_task_options test_on_loop(int i)
{
    coro_task_options o = {NULL, 0, NULL, 0, NULL};

    o.loop = coro_loop_at(i);
    return o;
}

coro_task *test_spawn_on(int i, coro_fn fn, void *arg)
{
    coro_task_options o = test_on_loop(i);
    coro_task *t = NULL;

    CHECK_ERR(coro_spawn(&t, fn, arg, &o), 0);
    return t;
}

void *test_wait_event(void *arg)
{
    CHECK_ERR(coro_event_wait(arg), 0);
    return NULL;
}

int test_slow_env(void)
{
    const char *s = getenv("CORO_TEST_SLOW");
    return s != NULL && s[0] == '1';
}

/* The fds below MAX_FDS that are open, as a set. */
#define MAX_FDS 4096
typedef struct fd_set_ {
    unsigned char open[MAX_FDS / 8];
} fd_set_;

static void open_fds(fd_set_ *set)
{
    memset(set, 0, sizeof *set);
    for (int fd = 0; fd < MAX_FDS; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            set->open[fd / 8] |= (unsigned char)(1u << (fd % 8));
}

/* Reports the fds open now that were not before (each with what it is). */
static int fds_leaked(const char *name, const fd_set_ *before)
{
    fd_set_ now;
    int leaked = 0;

    open_fds(&now);
    for (int fd = 0; fd < MAX_FDS; fd++) {
        unsigned bit = 1u << (fd % 8);
        char link[64], target[256];
        ssize_t n;

        if (!(now.open[fd / 8] & bit) || (before->open[fd / 8] & bit))
            continue;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        fprintf(stderr, "%s: leaked fd %d (%s)\n", name, fd, target);
        leaked++;
    }
    return leaked;
}

/* Runs one test in this process and checks for leaks. */
static int run_here(int i)
{
    long allocs, maps;
    fd_set_ fds;

    (void)coro_running(NULL); /* the thread state is not a leak */
    coro__spares_drain();
    allocs = coro__live_allocs();
    maps = coro__live_maps();
    open_fds(&fds);
    tests[i].fn();
    /* The main coroutine keeps the last error it caught until its thread
     * ends; that is not a leak. */
    coro__error_clear(&coro__tls->main);
    coro__spares_drain();
    if (coro__live_allocs() != allocs || coro__live_maps() != maps) {
        fprintf(stderr, "%s: leaked %ld allocations and %ld mappings\n", tests[i].name,
                coro__live_allocs() - allocs, coro__live_maps() - maps);
        return 1;
    }
    return fds_leaked(tests[i].name, &fds) != 0;
}

static int run_forked(int i, unsigned timeout)
{
    int status;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        alarm(timeout);
        _exit(run_here(i));
    }
    if (waitpid(pid, &status, 0) < 0)
        return 1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status) != 0;
    fprintf(stderr, "%s: killed by signal %d%s\n", tests[i].name, WTERMSIG(status),
            WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
    return 1;
}

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    const char *t = getenv("CORO_TEST_TIMEOUT");
    unsigned timeout = t != NULL ? (unsigned)atoi(t) : 60;
    int passed = 0, failed = 0;

    if (argc == 2 && strcmp(argv[1], "-l") == 0) {
        for (int i = 0; i < ntests; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    if (argc > 1) {
        for (int a = 1; a < argc; a++)
            for (int i = 0; i < ntests; i++)
                if (strcmp(tests[i].name, argv[a]) == 0)
                    failed += run_here(i);
        return failed != 0;
    }
    for (int i = 0; i < ntests; i++) {
        int bad = run_forked(i, timeout);
        printf("%s - %s\n", bad ? "FAIL" : "ok", tests[i].name);
        fflush(stdout);
        bad ? failed++ : passed++;
    }
    printf("# %s: %d ok, %d failing\n", prog, passed, failed);
    return failed != 0;
}
