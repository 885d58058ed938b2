/*
 * test_fault.c - every allocation and mapping failing in turn: each call
 * either succeeds or returns a clean CORO_ENOMEM / CORO_EMAPS, an error
 * whose message cannot be allocated says "not enough memory", and nothing
 * leaks. Failures are injected with coro__fail_after(n) (alloc.c).
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

/* ---- the harness ---- */

/* 1 if the failure armed by coro__fail_after(n) has not happened yet: the
 * code run since made fewer than n allocations and mappings. Probes with
 * allocations of its own until the pending failure shows, then disarms. */
static int injection_pending(long n)
{
    int pending = 0;

    for (long i = 0; i < n && !pending; i++) {
        void *p = coro__malloc(1);
        if (p == NULL)
            pending = 1;
        coro__free(p);
    }
    coro__fail_after(0);
    return pending;
}

/* A step's result: success, or one of the clean out-of-memory codes. */
#define CHECK_OK_OR_NOMEM(r)                                                                       \
    do {                                                                                           \
        int r_ = (r);                                                                              \
        if (r_ != 0 && r_ != CORO_ENOMEM && r_ != CORO_EMAPS)                                      \
            test_fail(__FILE__, __LINE__, "%s: %d (%s), want 0, CORO_ENOMEM or CORO_EMAPS", #r,    \
                      r_, coro_errname(r_));                                                       \
    } while (0)

/* An error message: the one formatted, or the one used when formatting
 * could not allocate. */
#define CHECK_MSG(msg, want)                                                                       \
    do {                                                                                           \
        const char *m_ = (msg);                                                                    \
        if (m_ == NULL || (strcmp(m_, want) != 0 && strcmp(m_, "not enough memory") != 0))         \
            test_fail(__FILE__, __LINE__, "%s: \"%s\", want \"%s\" or \"not enough memory\"",      \
                      #msg, m_ ? m_ : "(null)", want);                                             \
    } while (0)

/* Runs scenario with the nth allocation or mapping failing, for n = 1, 2,
 * ... until a run makes fewer calls than n. Every run must leave the live
 * allocations and mappings as it found them; the last run, which nothing
 * failed, must report complete success. Returns how many runs failed a
 * call. */
static long fail_each_in_turn(int (*scenario)(void))
{
    long n;

    for (n = 1;; n++) {
        long allocs, maps;
        int complete, pending;

        coro__spares_drain(); /* every run maps its stacks afresh */
        allocs = coro__live_allocs();
        maps = coro__live_maps();
        coro__fail_after(n);
        complete = scenario();
        pending = injection_pending(n);
        coro__spares_drain();
        if (coro__live_allocs() != allocs || coro__live_maps() != maps)
            test_fail(__FILE__, __LINE__, "run %ld: leaked %ld allocations, %ld mappings", n,
                      coro__live_allocs() - allocs, coro__live_maps() - maps);
        if (pending) {
            if (!complete)
                test_fail(__FILE__, __LINE__, "run %ld: nothing failed, yet it did not complete",
                          n);
            break;
        }
        CHECK(n < 1000);
    }
    return n - 1;
}

/* ---- cleanups that count ---- */

struct counts {
    int registered; /* coro_defer calls that succeeded */
    int ran;        /* cleanups that ran */
    int raising;    /* 1 if a cleanup that raises was registered */
};

static void count_cleanup(void *arg)
{
    ((struct counts *)arg)->ran++;
}

static void defer_counted(struct counts *c)
{
    int r = coro_defer(count_cleanup, c);

    CHECK_OK_OR_NOMEM(r);
    CHECK(r != CORO_EMAPS);
    if (r == 0)
        c->registered++;
}

static void raise_in_cleanup(void *arg)
{
    count_cleanup(arg);
    coro_error("cleanup failed %d", 7);
}

/* ---- scenarios ---- */

/* Registers cleanups, yields, then raises an error. */
static void *defer_yield_error(void *arg)
{
    struct counts *c = arg;

    defer_counted(c);
    defer_counted(c);
    CHECK_ERR(coro_yield(c, NULL), 0);
    coro_error("failed with %d", 42);
    return NULL;
}

/* A named coroutine runs, registers cleanups, yields, raises an error: the
 * cleanups that were registered run, the message survives; close reports
 * the error again and destroy frees everything. */
static int scenario_error_in_coroutine(void)
{
    coro_options opt = {0, "faulty", NULL, 0};
    struct counts c = {0, 0, 0};
    coro *co = NULL;
    void *out = NULL;
    int r, complete;

    r = coro_create(&co, defer_yield_error, &opt);
    CHECK_OK_OR_NOMEM(r);
    if (r != 0) {
        CHECK_PTR(co, NULL);
        return 0;
    }
    CHECK_STR(coro_name(co), "faulty");
    CHECK_INT(coro_resume(co, &c, &out), 1);
    CHECK_PTR(out, &c);
    CHECK_ERR(coro_resume(co, NULL, &out), CORO_EERROR);
    CHECK_INT(c.ran, c.registered);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_MSG(coro_errmsg(co), "failed with 42");
    complete = c.registered == 2 && strcmp(coro_errmsg(co), "failed with 42") == 0;
    CHECK_ERR(coro_close(co), CORO_EERROR);
    CHECK_ERR(coro_destroy(co), 0);
    return complete;
}

/* Registers a cleanup that raises and one that counts, then yields. */
static void *defer_then_yield(void *arg)
{
    struct counts *c = arg;
    int r;

    defer_counted(c);
    r = coro_defer(raise_in_cleanup, c);
    CHECK_OK_OR_NOMEM(r);
    if (r == 0) {
        c->registered++;
        c->raising = 1;
    }
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK(!"resumed after close");
    return NULL;
}

/* A suspended coroutine is closed: its cleanups run on its stack, one
 * raises (its message may fail to allocate), close reports it. */
static int scenario_close_suspended(void)
{
    struct counts c = {0, 0, 0};
    coro *co = NULL;
    int r, complete;

    r = coro_create(&co, defer_then_yield, NULL);
    CHECK_OK_OR_NOMEM(r);
    if (r != 0)
        return 0;
    CHECK_INT(coro_resume(co, &c, NULL), 1);
    r = coro_close(co);
    CHECK_INT(c.ran, c.registered);
    CHECK_INT(coro_status(co), CORO_DEAD);
    if (c.raising) {
        CHECK_ERR(r, CORO_EERROR);
        CHECK_MSG(coro_errmsg(co), "cleanup failed 7");
    } else {
        CHECK_ERR(r, 0);
    }
    complete = c.registered == 2 && strcmp(coro_errmsg(co), "cleanup failed 7") == 0;
    CHECK_ERR(coro_destroy(co), 0);
    return complete;
}

static void *raise_in_pcall(void *arg)
{
    defer_counted(arg);
    coro_error_value(arg, "pcall %s", "failed");
    return NULL;
}

/* coro_pcall on the main coroutine catches an error raised below it. */
static int scenario_pcall_on_main(void)
{
    struct counts c = {0, 0, 0};
    coro *self = coro_running(NULL);
    void *out = NULL;
    int complete;

    CHECK_ERR(coro_pcall(raise_in_pcall, &c, &out), CORO_EERROR);
    CHECK_PTR(out, &c);
    CHECK_PTR(coro_errvalue(self), &c);
    CHECK_INT(c.ran, c.registered);
    CHECK_MSG(coro_errmsg(self), "pcall failed");
    complete = c.registered == 1 && strcmp(coro_errmsg(self), "pcall failed") == 0;
    /* The caught error stays with the main coroutine "until the next error";
     * release it so the leak check sees the baseline. */
    coro__error_clear(self);
    return complete;
}

static void *gen_fails(void *arg)
{
    defer_counted(arg);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    coro_error("generator %s", "broke");
    return NULL;
}

struct wrap_run {
    struct counts c;
    coro *gen;
    int call1, call2, complete;
};

static void *call_twice(void *arg)
{
    struct wrap_run *w = arg;

    w->call1 = coro_call(w->gen, &w->c, NULL);
    w->call2 = coro_call(w->gen, NULL, NULL); /* raises here again */
    CHECK(!"the generator's error was not raised again");
    return NULL;
}

static void *pcall_call_twice(void *arg)
{
    struct wrap_run *w = arg;
    coro *self = coro_running(NULL);

    CHECK_ERR(coro_pcall(call_twice, w, NULL), CORO_EERROR);
    CHECK_MSG(coro_errmsg(self), "generator broke");
    w->complete = strcmp(coro_errmsg(self), "generator broke") == 0;
    return NULL;
}

/* A generator's error is raised again in the coroutine calling it, which
 * catches it with coro_pcall: the message is copied, maybe into "not
 * enough memory". */
static int scenario_wrap_error_propagates(void)
{
    struct wrap_run w;
    coro *outer = NULL;
    int r;

    memset(&w, 0, sizeof w);
    r = coro_wrap(&w.gen, gen_fails, NULL);
    CHECK_OK_OR_NOMEM(r);
    if (r != 0)
        return 0;
    r = coro_create(&outer, pcall_call_twice, NULL);
    CHECK_OK_OR_NOMEM(r);
    if (r == 0) {
        CHECK_INT(coro_resume(outer, &w, NULL), 0);
        CHECK_INT(w.call1, 1);
        CHECK_INT(w.c.ran, w.c.registered);
        CHECK_INT(coro_status(w.gen), CORO_DEAD);
        CHECK_MSG(coro_errmsg(w.gen), "generator broke");
        CHECK_ERR(coro_destroy(outer), 0);
    }
    CHECK_ERR(coro_destroy(w.gen), 0);
    return r == 0 && w.complete && w.c.registered == 1;
}

struct thread_run {
    long n;        /* the allocation to fail in the thread */
    int main_null; /* coro_running returned NULL */
    int complete, pending;
};

/* 1 if the calling thread has a signal stack (coro's or, under ASan,
 * ASan's). */
static int has_altstack(void)
{
    stack_t ss;

    return sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE);
}

static void *yield_and_return(void *arg)
{
    CHECK_ERR(coro_yield(arg, NULL), 0);
    return arg;
}

/* A new thread's first use of coro creates its state (control block,
 * signal stack); then it runs a coroutine. */
static void *thread_first_use(void *arg)
{
    struct thread_run *tr = arg;
    int ismain = -1;
    void *out = NULL;
    coro *co = NULL, *m;
    int r;

    coro__fail_after(tr->n);
    m = coro_running(&ismain);
    CHECK_INT(ismain, 1);
    tr->main_null = m == NULL;
    if (m != NULL)
        CHECK_STR(coro_name(m), "main");
    r = coro_create(&co, yield_and_return, NULL);
    CHECK_OK_OR_NOMEM(r);
    if (r == 0) {
        CHECK_INT(coro_resume(co, tr, &out), 1);
        CHECK_INT(coro_resume(co, NULL, &out), 0);
        CHECK_PTR(out, tr);
        CHECK_ERR(coro_destroy(co), 0);
    }
    tr->complete = r == 0 && m != NULL && has_altstack();
    tr->pending = injection_pending(tr->n);
    return NULL;
}

/* The same as fail_each_in_turn, for the calls made on a fresh thread; the
 * thread's state is freed when it exits, so the baseline is the same. */
TEST(thread_state_creation_fails_cleanly_at_each_allocation)
{
    long n;

    for (n = 1;; n++) {
        struct thread_run tr = {n, 0, 0, 0};
        long allocs = coro__live_allocs(), maps = coro__live_maps();
        pthread_t th;

        CHECK_INT(pthread_create(&th, NULL, thread_first_use, &tr), 0);
        CHECK_INT(pthread_join(th, NULL), 0);
        if (coro__live_allocs() != allocs || coro__live_maps() != maps)
            test_fail(__FILE__, __LINE__, "run %ld: leaked %ld allocations, %ld mappings", n,
                      coro__live_allocs() - allocs, coro__live_maps() - maps);
        if (tr.pending) {
            CHECK(tr.complete);
            break;
        }
        CHECK(n < 1000);
    }
    CHECK(n > 3); /* thread state, signal stack, control block, stack */
}

TEST(coroutine_error_fails_cleanly_at_each_allocation)
{
    /* control block, name, stack (mmap, mprotect), two cleanups, message */
    CHECK(fail_each_in_turn(scenario_error_in_coroutine) >= 7);
}

TEST(close_with_raising_cleanup_fails_cleanly_at_each_allocation)
{
    CHECK(fail_each_in_turn(scenario_close_suspended) >= 6);
}

TEST(pcall_on_main_fails_cleanly_at_each_allocation)
{
    CHECK(fail_each_in_turn(scenario_pcall_on_main) >= 2);
}

TEST(wrap_error_fails_cleanly_at_each_allocation)
{
    SKIP_IN_COPY_MODE();
    CHECK(fail_each_in_turn(scenario_wrap_error_propagates) >= 8);
}

/* ---- the failures one by one ---- */

static void *noop(void *arg)
{
    return arg;
}

/* A create with a name makes, in order: the control block (1), the name
 * (2), the stack mapping (3) and the guard page's mprotect (4). */
TEST(create_fails_with_enomem_when_control_block_cannot_be_allocated)
{
    coro_options opt = {0, "named", NULL, 0};
    /* Any non-NULL value; cast through void *, as a coro may need more
     * alignment than the options (ucontext_t on riscv64). */
    coro *co = (coro *)(void *)&opt;

    coro__fail_after(1);
    CHECK_ERR(coro_create(&co, noop, &opt), CORO_ENOMEM);
    CHECK_PTR(co, NULL);
    CHECK(!injection_pending(1));
}

TEST(create_fails_with_enomem_when_name_cannot_be_copied)
{
    coro_options opt = {0, "named", NULL, 0};
    coro *co = (coro *)(void *)&opt;

    coro__fail_after(2);
    CHECK_ERR(coro_create(&co, noop, &opt), CORO_ENOMEM);
    CHECK_PTR(co, NULL);
    CHECK(!injection_pending(1));
}

TEST(create_fails_with_enomem_when_stack_cannot_be_mapped)
{
    coro_options opt = {0, "named", NULL, 0};
    long maps;
    coro *co = (coro *)(void *)&opt;

    coro__spares_drain();
    maps = coro__live_maps();
    coro__fail_after(3);
    CHECK_ERR(coro_create(&co, noop, &opt), CORO_ENOMEM);
    CHECK_PTR(co, NULL);
    CHECK(!injection_pending(1));
    CHECK_INT(coro__live_maps(), maps);
}

TEST(create_fails_with_emaps_when_guard_page_cannot_be_split_off)
{
    coro_options opt = {0, "named", NULL, 0};
    long maps;
    coro *co = (coro *)(void *)&opt;

    coro__spares_drain();
    maps = coro__live_maps();
    coro__fail_after(4); /* mprotect fails with ENOMEM: the map count */
    CHECK_ERR(coro_create(&co, noop, &opt), CORO_EMAPS);
    CHECK_PTR(co, NULL);
    CHECK(!injection_pending(1));
    CHECK_INT(coro__live_maps(), maps); /* the mapping was undone */

    opt.name = NULL; /* without a name: control block, mmap, mprotect */
    coro__fail_after(3);
    CHECK_ERR(coro_create(&co, noop, &opt), CORO_EMAPS);
    CHECK(!injection_pending(1));
    CHECK_INT(coro__live_maps(), maps);
}

TEST(create_from_pool_makes_no_mapping_call)
{
    coro *co;

    CHECK_ERR(coro_create(&co, noop, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0); /* its stack is pooled */
    coro__fail_after(2);            /* the control block, then nothing */
    CHECK_ERR(coro_create(&co, noop, NULL), 0);
    CHECK(injection_pending(2));
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(emaps_message_says_what_to_raise)
{
    CHECK(strstr(coro_strerror(CORO_EMAPS), "vm.max_map_count") != NULL);
    CHECK_STR(coro_errname(CORO_EMAPS), "CORO_EMAPS");
    CHECK_STR(coro_strerror(CORO_ENOMEM), "not enough memory");
}

static void *raise_after_failing_next_alloc(void *arg)
{
    coro__fail_after(1);
    if (arg != NULL)
        coro_error_value(arg, "value %d", 1);
    coro_error("this message %s", "is lost");
    return NULL;
}

TEST(error_message_that_cannot_be_allocated_is_not_enough_memory)
{
    void *out = NULL;
    int value;
    coro *co;

    CHECK_ERR(coro_create(&co, raise_after_failing_next_alloc, NULL), 0);
    CHECK_ERR(coro_resume(co, NULL, &out), CORO_EERROR);
    CHECK_STR(coro_errmsg(co), "not enough memory");
    CHECK_PTR(out, NULL);
    CHECK_ERR(coro_destroy(co), 0);

    CHECK_ERR(coro_create(&co, raise_after_failing_next_alloc, NULL), 0);
    CHECK_ERR(coro_resume(co, &value, &out), CORO_EERROR);
    CHECK_STR(coro_errmsg(co), "not enough memory");
    CHECK_PTR(out, &value); /* the value is kept */
    CHECK_PTR(coro_errvalue(co), &value);
    CHECK_ERR(coro_destroy(co), 0);
}

static void *defer_fails(void *arg)
{
    struct counts *c = arg;

    coro__fail_after(1);
    CHECK_ERR(coro_defer(count_cleanup, c), CORO_ENOMEM);
    CHECK_ERR(coro_defer(count_cleanup, c), 0);
    return NULL;
}

TEST(defer_that_cannot_allocate_registers_nothing)
{
    struct counts c = {0, 0, 0};
    coro *co;

    CHECK_ERR(coro_create(&co, defer_fails, NULL), 0);
    CHECK_INT(coro_resume(co, &c, NULL), 0);
    CHECK_INT(c.ran, 1);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(running_on_new_thread_without_memory_reports_null)
{
    struct thread_run tr = {1, 0, 0, 0};
    pthread_t th;

    /* The thread state's allocation fails: coro_running returns NULL (and
     * says "main"); the next call, coro_create, tries again and works. */
    CHECK_INT(pthread_create(&th, NULL, thread_first_use, &tr), 0);
    CHECK_INT(pthread_join(th, NULL), 0);
    CHECK_INT(tr.main_null, 1);
    CHECK(!tr.pending);
    CHECK(!tr.complete);
}

/* A real limit instead of an injected one: with the address space capped
 * (in a child process), a stack that does not fit fails with CORO_ENOMEM
 * and a small one still works. */
static void create_under_rlimit_as(void)
{
    struct rlimit lim = {(rlim_t)1 << 30, (rlim_t)1 << 30};
    coro_options big = {(size_t)2 << 30, "big", NULL, 0};
    long maps = coro__live_maps(), allocs;
    coro *co = (coro *)(void *)&big;

    if (setrlimit(RLIMIT_AS, &lim) != 0)
        _exit(3);
    allocs = coro__live_allocs();
    if (coro_create(&co, noop, &big) != CORO_ENOMEM || co != NULL)
        _exit(4);
    if (coro__live_maps() != maps || coro__live_allocs() != allocs)
        _exit(5);
    if (coro_create(&co, noop, NULL) != 0 || coro_resume(co, NULL, NULL) != 0)
        _exit(6);
    coro_destroy(co);
    _exit(0);
}

TEST(create_beyond_address_space_limit_fails_with_enomem)
{
    int status;
    pid_t pid;

    SKIP_IN_COPY_MODE();
    SKIP_UNDER_TSAN("TSan's shadow memory needs far more address space than that");
#ifdef CORO__ASAN
    return; /* ASan's shadow memory needs far more address space than that */
#endif
    if (test_slow_env())
        return; /* valgrind and qemu keep their own address-space books */
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        create_under_rlimit_as();
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
}

/* The real limit behind CORO_EMAPS: create coroutines (in a child) until
 * the kernel's count of memory mappings runs out. Linux refuses to split a
 * mapping at a lower count than it refuses a new one, so the guard page's
 * mprotect is what fails: CORO_EMAPS, with the half-made stack undone. After
 * destroying some, creating works again, and everything can be freed. */
static long max_map_count(void)
{
    long n = -1;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld", &n) != 1)
        n = -1;
    fclose(f);
    return n;
}

static int exhaust_map_count(long limit)
{
    coro_options small = {CORO_STACK_MIN, NULL, NULL, 0};
    long cap = limit / 2 + 1000, n = 0, maps, allocs;
    coro **cos = malloc((size_t)cap * sizeof *cos);
    int r;

    if (cos == NULL)
        return 2;
    coro__spares_drain();
    maps = coro__live_maps();
    allocs = coro__live_allocs();
    while ((r = coro_create(&cos[n], noop, &small)) == 0)
        if (++n == cap)
            return 3; /* the limit did not bite */
    if (r != CORO_EMAPS || cos[n] != NULL)
        return 4;
    if (coro__live_maps() != maps + n || coro__live_allocs() != allocs + n)
        return 5;
    for (long i = n - 100; i < n; i++)
        coro_destroy(cos[i]);
    coro__spares_drain();
    if (coro_create(&cos[n - 100], noop, &small) != 0)
        return 6;
    if (coro_resume(cos[n - 100], NULL, NULL) != 0)
        return 7;
    for (long i = 0; i <= n - 100; i++)
        coro_destroy(cos[i]);
    coro__spares_drain();
    if (coro__live_maps() != maps || coro__live_allocs() != allocs)
        return 8;
    free(cos);
    return 0;
}

TEST(map_count_limit_gives_emaps_and_recovers)
{
    long limit = max_map_count();
    int status;
    pid_t pid;

    SKIP_IN_COPY_MODE();
    SKIP_UNDER_TSAN("TSan maps a trace and a shadow call stack for every fiber: its own "
                    "mappings, not the guard page's split, reach the limit");
    /* valgrind's own table of mappings is smaller; a huge limit would take
     * too much memory (a page per stack is touched). */
    if (test_slow_env() || limit < 0 || limit > 300000)
        return;
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(exhaust_map_count(limit));
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
}
