/*
 * test_copystack.c - massive concurrency mode (CORO_COPY_STACK): coroutines
 * sharing one stack per thread keep their locals across switches, nest,
 * raise, close, overflow by name, and cost little memory when idle.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

static coro *copy_create(coro_fn fn, const char *name)
{
    coro_options opt = {0, name, NULL, CORO_COPY_STACK};
    coro *co = NULL;

    CHECK_ERR(coro_create(&co, fn, &opt), 0);
    return co;
}

/* Fills a local array from its seed, yields, and checks it is intact. */
static void *keeper(void *arg)
{
    volatile long local[64];
    long seed = N(arg);

    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 64; i++)
            local[i] = seed * 1000 + i + round;
        CHECK_ERR(coro_yield(P(seed + round), NULL), 0);
        for (int i = 0; i < 64; i++)
            CHECK_INT(local[i], seed * 1000 + i + round);
    }
    return P(-seed);
}

TEST(copy_mode_coroutines_keep_their_locals_while_interleaved)
{
    coro *co[8];
    void *out;

    for (int i = 0; i < 8; i++)
        co[i] = copy_create(keeper, "keeper");
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < 8; i++) {
            CHECK_INT(coro_resume(co[i], P(i + 1), &out), 1);
            CHECK_INT(N(out), i + 1 + round);
        }
    for (int i = 0; i < 8; i++) {
        CHECK_INT(coro_resume(co[i], NULL, &out), 0);
        CHECK_INT(N(out), -(i + 1));
        CHECK_ERR(coro_destroy(co[i]), 0);
    }
}

/* A copy-mode coroutine resuming another copy-mode coroutine: both share
 * the stack, so each switch copies the other out. */
static void *inner(void *arg)
{
    volatile long mark = N(arg) * 7;

    for (int i = 0; i < 3; i++) {
        CHECK_INT(coro_status(coro_running(NULL)), CORO_RUNNING);
        CHECK_ERR(coro_yield(P(mark + i), NULL), 0);
    }
    return P(mark);
}

static void *outer(void *arg)
{
    volatile long mine[16];
    coro *in = copy_create(inner, "inner");
    void *out;

    (void)arg;
    for (int i = 0; i < 16; i++)
        mine[i] = i * i;
    for (int i = 0; i < 3; i++) {
        CHECK_INT(coro_resume(in, P(3), &out), 1);
        CHECK_INT(N(out), 21 + i);
        for (int j = 0; j < 16; j++)
            CHECK_INT(mine[j], j * j);
        CHECK_ERR(coro_yield(P(i), NULL), 0);
    }
    CHECK_INT(coro_resume(in, NULL, &out), 0);
    CHECK_INT(N(out), 21);
    CHECK_ERR(coro_destroy(in), 0);
    return P(99);
}

TEST(copy_mode_coroutine_resumes_another_copy_mode_coroutine)
{
    coro *co = copy_create(outer, "outer");
    void *out;

    for (int i = 0; i < 3; i++) {
        CHECK_INT(coro_resume(co, NULL, &out), 1);
        CHECK_INT(N(out), i);
    }
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_INT(N(out), 99);
    CHECK_ERR(coro_destroy(co), 0);
}

static void *counter(void *arg)
{
    for (long i = 0; i < N(arg); i++)
        CHECK_ERR(coro_yield(P(i), NULL), 0);
    return NULL;
}

TEST(copy_mode_generator_with_wrap)
{
    coro_options opt = {0, "gen", NULL, CORO_COPY_STACK};
    coro *gen;
    void *v;
    long n = 0;

    CHECK_ERR(coro_wrap(&gen, counter, &opt), 0);
    while (coro_call(gen, P(100), &v) > 0)
        CHECK_INT(N(v), n++);
    CHECK_INT(n, 100);
    CHECK_ERR(coro_destroy(gen), 0);
}

static void add_to(void *arg)
{
    *(long *)arg += 1;
}

static void *fails_after_yield(void *arg)
{
    long local = 41;

    (void)arg;
    CHECK_ERR(coro_defer(add_to, &local), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    coro_error("copy mode error %ld", local);
    return NULL;
}

TEST(copy_mode_error_is_caught_by_resume)
{
    coro *a = copy_create(fails_after_yield, "a");
    coro *b = copy_create(keeper, "b");

    CHECK_INT(coro_resume(a, NULL, NULL), 1);
    CHECK_INT(coro_resume(b, P(5), NULL), 1); /* a's frames are copied out */
    CHECK_ERR(coro_resume(a, NULL, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(a), "copy mode error 41");
    CHECK_ERR(coro_destroy(a), 0);
    CHECK_ERR(coro_destroy(b), 0);
}

static long closed_value;

static void record(void *arg)
{
    closed_value = *(long *)arg;
}

static void *suspended_with_cleanup(void *arg)
{
    long local = N(arg);

    CHECK_ERR(coro_defer(record, &local), 0);
    for (;;)
        CHECK_ERR(coro_yield(NULL, NULL), 0);
    return NULL;
}

TEST(copy_mode_close_runs_cleanups_that_read_locals)
{
    coro *a = copy_create(suspended_with_cleanup, "a");
    coro *b = copy_create(suspended_with_cleanup, "b");

    CHECK_INT(coro_resume(a, P(111), NULL), 1);
    CHECK_INT(coro_resume(b, P(222), NULL), 1); /* a is copied out */
    CHECK_ERR(coro_close(a), 0);                /* a is copied back in */
    CHECK_INT(closed_value, 111);
    CHECK_ERR(coro_close(b), 0);
    CHECK_INT(closed_value, 222);
    CHECK_ERR(coro_destroy(a), 0);
    CHECK_ERR(coro_destroy(b), 0);
}

TEST(copy_mode_and_own_stack_coroutines_mix)
{
    coro *c = copy_create(keeper, "copy");
    coro *o;
    void *out;

    CHECK_ERR(coro_create(&o, keeper, NULL), 0);
    for (int round = 0; round < 5; round++) {
        CHECK_INT(coro_resume(c, P(1), &out), 1);
        CHECK_INT(N(out), 1 + round);
        CHECK_INT(coro_resume(o, P(2), &out), 1);
        CHECK_INT(N(out), 2 + round);
    }
    CHECK_INT(coro_resume(c, NULL, NULL), 0);
    CHECK_INT(coro_resume(o, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(c), 0);
    CHECK_ERR(coro_destroy(o), 0);
}

static void *yield_twice(void *arg)
{
    CHECK_ERR(coro_yield(arg, NULL), 0);
    CHECK_ERR(coro_yield(arg, NULL), 0);
    return arg;
}

TEST(copy_mode_ten_thousand_alive_each_yield_twice)
{
    enum { N_CO = ALIVE(10000) };
    coro **co = malloc(N_CO * sizeof *co);
    void *out;

    CHECK(co != NULL);
    for (int i = 0; i < N_CO; i++)
        co[i] = copy_create(yield_twice, NULL);
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < N_CO; i++) {
            CHECK_INT(coro_resume(co[i], P(i), &out), r < 2 ? 1 : 0);
            CHECK_INT(N(out), i);
        }
    for (int i = 0; i < N_CO; i++)
        CHECK_ERR(coro_destroy(co[i]), 0);
    free(co);
}

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

TEST(copy_mode_suspended_coroutine_costs_its_live_stack_only)
{
    enum { N_CO = 100000 };
    coro **co;
    long before, after;

    SKIP_UNDER_TSAN("each coroutine is a TSan fiber, with TSan's state and a shadow call stack "
                    "mapping of its own: far more than 1 KiB, and past the map count");
#if defined(CORO__ASAN) || defined(CORO_BACKEND_UCONTEXT)
    /* ASan's shadow and quarantine distort resident memory; a ucontext_t
     * alone makes a control block about 1 KiB. */
    return;
#endif
    if (test_slow_env())
        return;
    co = malloc(N_CO * sizeof *co);
    CHECK(co != NULL);
    before = rss_kib();
    for (int i = 0; i < N_CO; i++) {
        co[i] = copy_create(yield_twice, NULL);
        CHECK_INT(coro_resume(co[i], NULL, NULL), 1);
    }
    after = rss_kib();
    /* Control block plus a few hundred live bytes: far below a page. */
    CHECK((after - before) * 1024 / N_CO < 1024);
    for (int i = 0; i < N_CO; i++)
        CHECK_ERR(coro_destroy(co[i]), 0);
    free(co);
}

static volatile unsigned long recurse_stop = ~0UL;

__attribute__((noinline)) static unsigned long recurse(unsigned long depth)
{
    volatile char frame[512];

    frame[0] = (char)depth;
    frame[511] = 1;
    if (depth == recurse_stop)
        return 0;
    return recurse(depth + 1) + (unsigned long)frame[0] + (unsigned long)frame[511];
}

static void *recurse_forever(void *arg)
{
    return P(recurse(N(arg)));
}

/* Runs fn in a child with stderr on a pipe; returns what it printed and
 * stores how it ended. */
static void run_child(void (*fn)(void), char *buf, size_t size, int *status)
{
    int fds[2];
    pid_t pid;
    ssize_t n, got = 0;

    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    while ((n = read(fds[0], buf + got, size - 1 - (size_t)got)) > 0)
        got += n;
    buf[got] = '\0';
    close(fds[0]);
    CHECK_INT(waitpid(pid, status, 0), pid);
}

static void overflow_child(void)
{
    coro *co = copy_create(recurse_forever, "copydeep");

    coro_resume(co, NULL, NULL);
}

TEST(copy_mode_overflow_is_reported_by_name)
{
    char buf[1024], want[200];
    int status;

    run_child(overflow_child, buf, sizeof buf, &status);
    CHECK(WIFSIGNALED(status));
    CHECK_INT(WTERMSIG(status), SIGABRT);
    snprintf(want, sizeof want, "coro: stack overflow in coroutine \"copydeep\" (id ");
    CHECK(strstr(buf, want) != NULL);
    snprintf(want, sizeof want, ", stack %zu bytes)", (size_t)CORO_SHARED_STACK_SIZE);
    CHECK(strstr(buf, want) != NULL);
}

static void *pass_local(void *arg)
{
    long local = 5;
    coro *other = arg;

    coro_resume(other, &local, NULL); /* the rule broken: other overwrites local */
    return NULL;
}

static void misuse_child(void)
{
    coro *victim = copy_create(yield_twice, "victim");
    coro *culprit = copy_create(pass_local, "culprit");

    CHECK_INT(coro_resume(victim, NULL, NULL), 1);
    coro_resume(culprit, victim, NULL);
}

TEST(copy_mode_pointer_into_shared_stack_passed_on_is_detected)
{
    char buf[1024];
    int status;

    run_child(misuse_child, buf, sizeof buf, &status);
#ifdef CORO__ASAN
    /* With detect_stack_use_after_return, locals live on ASan's fake stack,
     * off the shared stack: nothing to detect, and nothing overwritten. */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
#endif
    CHECK(WIFSIGNALED(status));
    CHECK_INT(WTERMSIG(status), SIGABRT);
    CHECK(strstr(buf, "pointer into the shared stack") != NULL);
    CHECK(strstr(buf, "\"victim\"") != NULL);
}

/* Yields the address of its local and checks, when resumed with a pointer,
 * that it is that address and the local is intact; then adds to it. */
static void *lend_local(void *arg)
{
    volatile long local = N(arg);
    void *back = NULL;

    CHECK_ERR(coro_yield((void *)&local, &back), 0);
    CHECK_PTR(back, (void *)&local);
    CHECK_INT(*(volatile long *)back, N(arg));
    *(volatile long *)back += 1;
    return P(local);
}

/* Uses a good part of the shared stack, over where the other's frames were. */
static void *scribble(void *arg)
{
    volatile char junk[16 * 1024];

    memset((char *)junk, 0x5a, sizeof junk);
    CHECK_ERR(coro_yield(arg, NULL), 0);
    return P(junk[0] + junk[sizeof junk - 1]);
}

/* A copy-stack coroutine handed back a pointer into its own stack after
 * another used the shared stack in between: its bytes are back before it
 * runs, so the pointer is valid, and nothing aborts. */
TEST(copy_mode_pointer_handed_back_to_its_own_coroutine_is_allowed)
{
    coro *lender = copy_create(lend_local, "lender");
    coro *other = copy_create(scribble, "scribbler");
    void *p = NULL, *out = NULL;

    CHECK_INT(coro_resume(lender, P(41), &p), 1);
    CHECK_INT(coro_resume(other, P(1), &out), 1); /* the lender's bytes are saved away */
    CHECK_INT(coro_resume(lender, p, &out), 0);   /* handed back: valid again */
    CHECK_INT(N(out), 42);
    CHECK_INT(coro_resume(other, NULL, &out), 0);
    CHECK_INT(N(out), 0x5a * 2);
    CHECK_ERR(coro_destroy(lender), 0);
    CHECK_ERR(coro_destroy(other), 0);
}

/* The same through a copy-stack coroutine that is not the owner at the
 * time of the hand-back: a driver resumed by main. */
static void *drive(void *arg)
{
    coro **pair = arg;
    void *p = NULL, *out = NULL;

    CHECK_INT(coro_resume(pair[0], P(9), &p), 1);
    CHECK_INT(coro_resume(pair[1], P(1), &out), 1);
    CHECK_INT(coro_resume(pair[0], p, &out), 0);
    return out;
}

TEST(copy_mode_pointer_handed_back_by_an_own_stack_driver_is_allowed)
{
    coro *pair[2] = {copy_create(lend_local, "lender"), copy_create(scribble, "scribbler")};
    coro_options own = {0, "driver", NULL, CORO__OWN_STACK};
    coro *driver;
    void *out = NULL;

    CHECK_ERR(coro_create(&driver, drive, &own), 0);
    CHECK_INT(coro_resume(driver, pair, &out), 0);
    CHECK_INT(N(out), 10);
    CHECK_INT(coro_resume(pair[1], NULL, NULL), 0);
    CHECK_ERR(coro_destroy(driver), 0);
    CHECK_ERR(coro_destroy(pair[0]), 0);
    CHECK_ERR(coro_destroy(pair[1]), 0);
}

/* A pointer below the receiver's frames is dangling: its frames will grow
 * over it. Handed by the main coroutine (the owner is the scribbler). */
static void misuse_below_child(void)
{
    coro *lender = copy_create(lend_local, "lender");
    coro *other = copy_create(scribble, "deep");
    void *p = NULL;

    CHECK_INT(coro_resume(other, P(1), NULL), 1);
    CHECK_INT(coro_resume(lender, P(1), &p), 1);
    CHECK_INT(coro_resume(other, NULL, NULL), 0);
    /* The lender's frames are shallow: the shared stack's low end is not
     * theirs. */
    coro_resume(lender, (char *)coro__tls->shared.lo + 4096, NULL);
}

TEST(copy_mode_pointer_below_the_receivers_frames_is_detected)
{
    char buf[1024];
    int status;

    run_child(misuse_below_child, buf, sizeof buf, &status);
    CHECK(WIFSIGNALED(status));
    CHECK_INT(WTERMSIG(status), SIGABRT);
    CHECK(strstr(buf, "pointer into the shared stack") != NULL);
    CHECK(strstr(buf, "\"lender\"") != NULL);
}

TEST(copy_mode_resume_fails_cleanly_when_the_save_buffer_cannot_grow)
{
    coro *a = copy_create(keeper, "a");
    coro *b = copy_create(keeper, "b");

    CHECK_INT(coro_resume(a, P(1), NULL), 1);
    coro__fail_after(1); /* a's save buffer */
    CHECK_ERR(coro_resume(b, P(2), NULL), CORO_ENOMEM);
    CHECK_INT(coro_status(b), CORO_SUSPENDED);
    CHECK_INT(coro_status(a), CORO_SUSPENDED);
    coro__fail_after(0);
    CHECK_INT(coro_resume(b, P(2), NULL), 1);
    CHECK_INT(coro_resume(a, P(1), NULL), 1); /* a's locals came back intact */
    CHECK_ERR(coro_destroy(a), 0);
    CHECK_ERR(coro_destroy(b), 0);
}

/* ---- a reserve is needed where nothing else would take it ---- */

static int cleanup_ran;

static void note_cleanup(void *arg)
{
    (void)arg;
    cleanup_ran++;
}

static void *defer_and_yield(void *arg)
{
    CHECK_ERR(coro_defer(note_cleanup, NULL), 0);
    CHECK_ERR(coro_yield(arg, NULL), 0);
    return NULL;
}

static void *deep_yield(void *arg)
{
    volatile char big[4096];

    memset((char *)big, 7, sizeof big);
    coro_set_userdata(coro_running(NULL), (void *)big); /* escapes: must be on the stack */
    CHECK_ERR(coro_yield(arg, NULL), 0);
    CHECK_INT(big[0] + big[sizeof big - 1], 14); /* came back intact */
    return NULL;
}

TEST(copy_mode_destroy_refuses_when_the_close_cannot_reserve)
{
    coro *a = copy_create(defer_and_yield, "a");
    coro *b = copy_create(deep_yield, "b");

    cleanup_ran = 0;
    CHECK_INT(coro_resume(a, NULL, NULL), 1);
    CHECK_INT(coro_resume(b, NULL, NULL), 1); /* b owns the shared stack, 4 KiB deep */
    coro__fail_after(1);                      /* the buffer for b's bytes */
    CHECK_ERR(coro_destroy(a), CORO_ENOMEM);  /* nothing freed, nothing run */
    coro__fail_after(0);
    CHECK_INT(cleanup_ran, 0);
    CHECK_INT(coro_status(a), CORO_SUSPENDED);
    CHECK_ERR(coro_destroy(a), 0);
    CHECK_INT(cleanup_ran, 1);
    CHECK_INT(coro_resume(b, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(b), 0);
}

/* main -> y (copy) -> n (own stack) -> x (copy, deep): x yields to n, which
 * copies nothing; n then ends and y needs the shared stack back, so x's
 * bytes are saved although nobody reserved room for them at x's yield. */
static coro *deep_x;

static void start_deep_x(void *arg)
{
    (void)arg;
    deep_x = copy_create(deep_yield, "x");
    CHECK_INT(coro_resume(deep_x, NULL, NULL), 1);
}

static void *n_returns(void *arg)
{
    (void)arg;
    start_deep_x(NULL);
    return NULL;
}

static void *n_raises(void *arg)
{
    (void)arg;
    start_deep_x(NULL);
    coro_error("n fails");
    return NULL;
}

static void *n_closed(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(start_deep_x, NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    return NULL;
}

static const coro_fn n_bodies[] = {n_returns, n_raises, n_closed};

static void *y_body(void *arg)
{
    coro_fn fn = n_bodies[(intptr_t)arg];
    coro *n;
    int rc;

    CHECK_ERR(coro_create(&n, fn, NULL), 0); /* its own stack */
    rc = coro_resume(n, NULL, NULL);
    if (rc == 1)
        rc = coro_close(n);
    CHECK_ERR(coro_destroy(n), 0);
    return P(rc);
}

TEST(copy_mode_end_of_an_own_stack_coroutine_saves_the_owner_it_interrupted)
{
    int want[] = {0, CORO_EERROR, 0};

    for (int i = 0; i < 3; i++) {
        coro *y = copy_create(y_body, "y");
        void *out = NULL;

        CHECK_INT(coro_resume(y, P(i), &out), 0);
        CHECK_ERR((int)(intptr_t)out, want[i]);
        CHECK_INT(coro_status(deep_x), CORO_SUSPENDED);
        CHECK_INT(coro_resume(deep_x, NULL, NULL), 0); /* its 4 KiB came back */
        CHECK_ERR(coro_destroy(deep_x), 0);
        CHECK_ERR(coro_destroy(y), 0);
    }
}

TEST(copy_mode_save_uses_the_reserve_when_an_exact_buffer_cannot_be_had)
{
    coro *a = copy_create(keeper, "a");
    coro *b = copy_create(keeper, "b");

    CHECK_INT(coro_resume(a, P(1), NULL), 1);
    coro__fail_after(2); /* the reserve is had; the exact-size buffer is not */
    CHECK_INT(coro_resume(b, P(2), NULL), 1);
    coro__fail_after(0);
    CHECK_INT(coro_resume(a, P(1), NULL), 1); /* a's locals came back from the reserve */
    CHECK_INT(coro_resume(b, P(2), NULL), 1);
    CHECK_ERR(coro_destroy(a), 0);
    CHECK_ERR(coro_destroy(b), 0);
}
