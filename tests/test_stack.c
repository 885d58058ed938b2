/*
 * test_stack.c - stacks: the overflow report and the fault chaining behind
 * it, guard pages, lazy commit, the pool and its bounds, size rounding, and
 * memory staying flat over a million coroutines.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clash_frames.h"
#include "internal.h"
#include "test.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef VALGRIND_DISABLE_ERROR_REPORTING
#define VALGRIND_DISABLE_ERROR_REPORTING ((void)0)
#define VALGRIND_ENABLE_ERROR_REPORTING ((void)0)
#endif

/* RSS measurements mean nothing under ASan (shadow memory, quarantine),
 * TSan (it keeps a few hundred bytes for every fiber ever made) or
 * valgrind; those builds skip the RSS assertions but run everything else.
 * SANITIZER: a build where creating a coroutine costs far more. */
#if defined(CORO__ASAN) || defined(CORO__TSAN)
#define RSS_CHECKS 0
#define SANITIZER 1
#else
#define RSS_CHECKS (!test_slow_env())
#define SANITIZER 0
#endif

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static size_t round_to_pages(size_t n)
{
    return (n + page_size() - 1) / page_size() * page_size();
}

/* Resident set size from /proc/self/statm, in bytes. */
static long rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    CHECK(f != NULL);
    CHECK_INT(fscanf(f, "%ld %ld", &size, &resident), 2);
    fclose(f);
    return resident * (long)page_size();
}

/* ---- running a child that is expected to die ---- */

/* How a forked child ended, and what it wrote to stderr. */
typedef struct child_result {
    int status;     /* as from waitpid */
    char err[4096]; /* its stderr, NUL-terminated, truncated if longer */
} child_result;

/* Runs fn(arg) in a forked child with stderr captured and core dumps off;
 * the child exits 0 if fn returns. */
static void run_child(void (*fn)(void *), void *arg, child_result *r)
{
    struct rlimit no_core = {0, 0};
    size_t len = 0;
    ssize_t n;
    char sink[256];
    int fds[2];
    pid_t pid;

    CHECK_INT(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setrlimit(RLIMIT_CORE, &no_core);
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    for (;;) {
        if (len < sizeof r->err - 1)
            n = read(fds[0], r->err + len, sizeof r->err - 1 - len);
        else
            n = read(fds[0], sink, sizeof sink);
        if (n <= 0)
            break;
        if (len < sizeof r->err - 1)
            len += (size_t)n;
    }
    r->err[len] = '\0';
    close(fds[0]);
    CHECK_INT(waitpid(pid, &r->status, 0), pid);
}

static void check_killed_by(const child_result *r, int sig)
{
    if (WIFSIGNALED(r->status) && WTERMSIG(r->status) == sig)
        return;
    test_fail(__FILE__, __LINE__, "child: expected death by signal %d, got %s %d; stderr:\n%s", sig,
              WIFSIGNALED(r->status) ? "signal" : "exit status",
              WIFSIGNALED(r->status) ? WTERMSIG(r->status) : WEXITSTATUS(r->status), r->err);
}

/* ---- stack overflow reports ---- */

/* Never reached: keeps gcc's -Winfinite-recursion quiet. */
static volatile unsigned long recurse_stop = ~0UL;

/* A frame the compiler can neither drop nor turn into a loop. */
__attribute__((noinline)) static unsigned long recurse(unsigned long depth)
{
    volatile char frame[256];

    frame[0] = (char)depth;
    frame[255] = (char)depth;
    __asm__ volatile("" : : "r"(frame) : "memory"); /* the whole array exists */
    if (depth == recurse_stop)
        return 0;
    return recurse(depth + 1) + (unsigned long)frame[0] + (unsigned long)frame[255];
}

static void *deep_body(void *arg)
{
    (void)arg;
    return (void *)recurse(0);
}

/* The child's stderr is the report and nothing else; under qemu-user, which
 * adds its own "uncaught target signal" line after it, the report comes
 * first. */
static void check_report(const char *err, const char *want)
{
    if (test_slow_env() && strncmp(err, want, strlen(want)) == 0)
        return;
    CHECK_STR(err, want);
}

/*
 * An overflow death test: its coroutine is created in the child, which
 * leaves the report it expects in memory shared with the parent. Created
 * in the parent, it would be alive across the fork, and under TSan a
 * coroutine is a fiber, which TSan counts as a thread: in the child of
 * what it takes for a multi-threaded fork, TSan ignores the forking
 * thread's synchronization and reports races that are not there.
 */
typedef struct overflow_case {
    coro_options opt;
    coro_fn fn;
    size_t usable;    /* the stack size the report must give */
    char want[256];   /* the report, from the child */
    char skipped[64]; /* or why the child could not make the overflow */
} overflow_case;

static overflow_case *overflow_case_new(size_t stack_size, const char *name, coro_fn fn,
                                        size_t usable)
{
    overflow_case *c =
        mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    CHECK(c != MAP_FAILED);
    memset(c, 0, sizeof *c);
    c->opt.stack_size = stack_size;
    c->opt.name = name;
    c->fn = fn;
    c->usable = usable;
    return c;
}

/* In the child, before the overflow: the report co's will be. */
static void expect_report_of(overflow_case *c, coro *co)
{
    snprintf(c->want, sizeof c->want,
             "coro: stack overflow in coroutine \"%s\" (id %llu, stack %zu bytes)\n", coro_name(co),
             coro_id(co), c->usable);
}

static void overflow_in_child(void *arg)
{
    overflow_case *c = arg;
    coro *co;

    CHECK_ERR(coro_create(&co, c->fn, &c->opt), 0);
    expect_report_of(c, co);
    coro_resume(co, NULL, NULL);
}

/* The child ran c and died of the overflow it expected. */
static void expect_overflow_report(overflow_case *c, const child_result *r)
{
    check_killed_by(r, SIGABRT);
    CHECK(c->want[0] != '\0');
    check_report(r->err, c->want);
    munmap(c, sizeof *c);
}

TEST(overflow_is_reported_with_name_id_and_size_then_aborts)
{
    SKIP_IN_COPY_MODE();
    overflow_case *c = overflow_case_new(20000, "deep", deep_body, round_to_pages(20000));
    child_result r;

    run_child(overflow_in_child, c, &r);
    expect_overflow_report(c, &r);
}

TEST(overflow_of_unnamed_coroutine_reports_empty_name)
{
    overflow_case *c = overflow_case_new(0, NULL, deep_body, CORO_STACK_DEFAULT);
    child_result r;

    SKIP_IN_COPY_MODE();
    run_child(overflow_in_child, c, &r);
    expect_overflow_report(c, &r);
}

/* Frames larger than the old single guard page and up to the guard region,
 * whose first store lands at their low end, as a buffer filled from its
 * start does: on a 16 KiB stack they jump the stack's bottom by up to
 * 240 KiB and must hit the guard, not the stack mapped below. */
#define BIG_FRAME(name, size)                                                                      \
    __attribute__((noinline)) static int name(int x)                                               \
    {                                                                                              \
        volatile char big[size];                                                                   \
                                                                                                   \
        __asm__ volatile("" : : "r"(big) : "memory"); /* the whole array exists */                 \
        big[0] = (char)x; /* the lowest byte first: jumps past the stack's bottom */               \
        big[(size)-1] = (char)x;                                                                   \
        return big[0] + big[(size)-1];                                                             \
    }

BIG_FRAME(frame_28k, 28 * 1024)
BIG_FRAME(frame_120k, 120 * 1024)
BIG_FRAME(frame_240k, 240 * 1024)
BIG_FRAME(frame_past_guard, CORO_STACK_GUARD + 64 * 1024)

static void *frame_28k_body(void *arg)
{
    return (void *)(intptr_t)frame_28k(arg != NULL);
}

static void *frame_120k_body(void *arg)
{
    return (void *)(intptr_t)frame_120k(arg != NULL);
}

static void *frame_240k_body(void *arg)
{
    return (void *)(intptr_t)frame_240k(arg != NULL);
}

static void *frame_past_guard_body(void *arg)
{
    return (void *)(intptr_t)frame_past_guard(arg != NULL);
}

static void *clash_1m_body(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)clash_frame(0);
}

static void *clash_16m_body(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)clash_frame(1);
}

static void expect_big_frame_reported(coro_fn body)
{
    overflow_case *c = overflow_case_new(16 * 1024, "jumper", body, round_to_pages(16 * 1024));
    child_result r;

    run_child(overflow_in_child, c, &r);
    expect_overflow_report(c, &r);
}

TEST(frames_up_to_the_guard_size_hit_the_guard_and_are_reported)
{
    SKIP_IN_COPY_MODE();
    expect_big_frame_reported(frame_28k_body);
    expect_big_frame_reported(frame_120k_body);
    expect_big_frame_reported(frame_240k_body);
}

/* With -fstack-clash-protection (what the header asks of code with larger
 * frames), a frame of any size is caught. */
TEST(frames_of_any_size_built_with_stack_clash_protection_are_reported)
{
    SKIP_IN_COPY_MODE();
    if (!clash_frames_probed) {
        fprintf(stderr, "# skipped: this compiler emits no stack probes for this target\n");
        return;
    }
    expect_big_frame_reported(clash_1m_body);
    expect_big_frame_reported(clash_16m_body);
}

#define HOLE ((size_t)128 * 1024)

/* 1 if nothing is mapped in the HOLE bytes below p. */
static int hole_below(const char *p)
{
    unsigned char vec;

    for (size_t off = page_size(); off <= HOLE; off += page_size())
        if (mincore((void *)(p - off), page_size(), &vec) == 0)
            return 0;
    return 1;
}

/* In the child: a stack can land in a small gap between other mappings;
 * try a few (keeping the others alive) until one has free space below it,
 * keep that space free (reserving it), so that a store just past the guard
 * faults instead of landing in a neighbour, and resume. */
static void past_guard_in_child(void *arg)
{
    overflow_case *c = arg;
    coro *co = NULL, *tried;
    char *want;

    for (int n = 0; n < 8 && co == NULL; n++) {
        CHECK_ERR(coro_create(&tried, c->fn, &c->opt), 0);
        if (hole_below(tried->stack.map))
            co = tried;
    }
    if (co == NULL) {
        snprintf(c->skipped, sizeof c->skipped, "no stack with free space below it");
        return;
    }
    want = (char *)co->stack.map - HOLE;
    mmap(want, HOLE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    expect_report_of(c, co);
    coro_resume(co, (void *)1, NULL);
}

/* A frame that jumps the guard and faults just below it (here nothing is
 * mapped there) is still reported by name, not left a bare SIGSEGV. */
TEST(a_fault_just_past_the_guard_is_reported_by_name)
{
    SKIP_IN_COPY_MODE();
    overflow_case *c =
        overflow_case_new(16 * 1024, "jumper", frame_past_guard_body, round_to_pages(16 * 1024));
    child_result r;

    run_child(past_guard_in_child, c, &r);
    if (c->skipped[0] != '\0') {
        fprintf(stderr, "# skipped: %s\n", c->skipped);
        munmap(c, sizeof *c);
        return;
    }
    expect_overflow_report(c, &r);
}

static void *deep_in_thread(void *arg)
{
    coro_options opt = {CORO_STACK_MIN, "deep", NULL, 0};
    coro *co;
    char *expected = arg;

    CHECK_ERR(coro_create(&co, deep_body, &opt), 0);
    /* Left in shared memory before the overflow: the parent learns the id. */
    snprintf(expected, 256,
             "coro: stack overflow in coroutine \"deep\" (id %llu, stack %zu bytes)\n", coro_id(co),
             round_to_pages(CORO_STACK_MIN));
    coro_resume(co, NULL, NULL);
    return NULL;
}

struct thread_overflow {
    char expected[256];
};

static void overflow_in_thread(void *arg)
{
    struct thread_overflow *t = arg;
    pthread_t th;
    ssize_t w;

    CHECK_INT(pthread_create(&th, NULL, deep_in_thread, t->expected), 0);
    /* The thread dies with the process; until then, wait. */
    pthread_join(th, NULL);
    w = write(STDERR_FILENO, "thread returned\n", 16);
    (void)w;
}

TEST(overflow_in_second_thread_is_reported_on_its_signal_stack)
{
    struct thread_overflow *t =
        mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    child_result r;

    SKIP_IN_COPY_MODE();
    CHECK(t != MAP_FAILED);
    run_child(overflow_in_thread, t, &r);
    check_killed_by(&r, SIGABRT);
    CHECK(t->expected[0] != '\0');
    check_report(r.err, t->expected);
    munmap(t, sizeof *t);
}

/* ---- faults that are not overflows go to the previous handler ---- */

/* A SIGSEGV handler installed before coro's (at startup, before the runner
 * first uses coro), standing for an application's or a runtime's. When a
 * test expects it, it reports and exits 42; otherwise it chains to what was
 * there before it, as coro does. */
static struct sigaction before_prior;
static volatile sig_atomic_t prior_expected;

static void prior_handler(int sig, siginfo_t *si, void *uctx)
{
    static const char msg[] = "prior handler ran\n";

    if (prior_expected) {
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        VALGRIND_ENABLE_ERROR_REPORTING; /* see write_bad_address */
        _exit(42);
    }
    if ((before_prior.sa_flags & SA_SIGINFO) && before_prior.sa_sigaction != NULL)
        before_prior.sa_sigaction(sig, si, uctx);
    else if (before_prior.sa_handler != SIG_DFL && before_prior.sa_handler != SIG_IGN)
        before_prior.sa_handler(sig);
    else
        signal(sig, SIG_DFL); /* return: the fault repeats and kills */
}

__attribute__((constructor)) static void install_prior_handler(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = prior_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &before_prior);
}

/* Writes to address 16. valgrind: the invalid write is the point, so it is
 * not reported (a process killed by it exits with reporting off, which
 * valgrind warns about); and since valgrind's register state is exact at a fault
 * only for sp and pc, the x86-64 store uses an absolute address, which
 * faults again when a handler returns to it. */
static void write_bad_address(void *arg)
{
    prior_expected = arg != NULL;
    VALGRIND_DISABLE_ERROR_REPORTING;
#if defined(__x86_64__)
    __asm__ volatile("movl $1, 0x10" : : : "memory");
#else
    static volatile uintptr_t bad_address = 16;
    *(volatile int *)bad_address = 1;
#endif
}

static void *write_bad_address_body(void *arg)
{
    write_bad_address(arg);
    return NULL;
}

static void write_bad_address_in_coroutine(void *arg)
{
    coro_options opt = {0, "stray", NULL, 0};
    coro *co;

    CHECK_ERR(coro_create(&co, write_bad_address_body, &opt), 0);
    coro_resume(co, arg, NULL);
}

TEST(fault_on_main_stack_goes_to_previous_handler)
{
    child_result r;

    run_child(write_bad_address, (void *)1, &r);
    CHECK(WIFEXITED(r.status));
    CHECK_INT(WEXITSTATUS(r.status), 42);
    CHECK_STR(r.err, "prior handler ran\n");
}

TEST(fault_in_coroutine_that_is_no_overflow_goes_to_previous_handler)
{
    child_result r;

    run_child(write_bad_address_in_coroutine, (void *)1, &r);
    CHECK(WIFEXITED(r.status));
    CHECK_INT(WEXITSTATUS(r.status), 42);
    CHECK_STR(r.err, "prior handler ran\n");
}

static void *write_to(void *arg)
{
    prior_expected = 1;
    VALGRIND_DISABLE_ERROR_REPORTING; /* see write_bad_address */
    *(volatile int *)arg = 1;
    return NULL;
}

/* In the child: a read-only mapping of the program's right below a
 * coroutine's guard, written by the coroutine with its stack pointer well
 * inside its stack. */
static void write_below_guard(void *arg)
{
    coro_options opt = {0, "writer", NULL, 0};
    coro *co;
    char *below;

    (void)arg;
    CHECK_ERR(coro_create(&co, write_to, &opt), 0);
    below = (char *)co->stack.map - 64 * 1024;
    if (mmap(below, page_size(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
             0) != below)
        _exit(43); /* something else is there */
    coro_resume(co, below, NULL);
}

/* Memory below the guard is not the stack's: a fault there (a program's
 * own write-protected page, whose handler would make it writable) goes to
 * the handler before coro's, not reported as an overflow. */
TEST(fault_just_below_the_guard_with_the_stack_pointer_inside_goes_to_previous_handler)
{
    child_result r;

    SKIP_IN_COPY_MODE();
    run_child(write_below_guard, NULL, &r);
    CHECK(WIFEXITED(r.status));
    if (WEXITSTATUS(r.status) == 43) {
        fprintf(stderr, "# skipped: the address below the guard is taken\n");
        return;
    }
    CHECK_INT(WEXITSTATUS(r.status), 42);
    CHECK_STR(r.err, "prior handler ran\n");
}

/* With nothing but the default action behind coro, a stray write kills the
 * process with SIGSEGV as if coro were not there. Under ASan or TSan, the
 * sanitizer's handler is the one behind and reports the SEGV itself. */
static void check_default_segv(const child_result *r)
{
    CHECK(strstr(r->err, "stack overflow") == NULL);
#if defined(CORO__ASAN)
    CHECK(WIFEXITED(r->status) && WEXITSTATUS(r->status) != 0);
    CHECK(strstr(r->err, "AddressSanitizer: SEGV") != NULL);
#elif defined(CORO__TSAN)
    CHECK(WIFEXITED(r->status) && WEXITSTATUS(r->status) != 0);
    CHECK(strstr(r->err, "ThreadSanitizer: SEGV") != NULL);
#else
    check_killed_by(r, SIGSEGV);
#endif
}

TEST(fault_on_main_stack_without_other_handler_kills_with_sigsegv)
{
    child_result r;

    run_child(write_bad_address, NULL, &r);
    check_default_segv(&r);
}

TEST(fault_in_coroutine_without_other_handler_kills_with_sigsegv)
{
    child_result r;

    run_child(write_bad_address_in_coroutine, NULL, &r);
    check_default_segv(&r);
}

/* ---- guard pages and lazy commit ---- */

/* The permissions ("rw-p", "---p") of the mapping holding addr, from
 * /proc/self/maps; "" if none. */
static void perms_at(const void *addr, char perms[5])
{
    unsigned long lo, hi;
    char line[512], p[5];
    FILE *f = fopen("/proc/self/maps", "r");

    CHECK(f != NULL);
    perms[0] = '\0';
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) != 3)
            continue;
        if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
            memcpy(perms, p, 5);
            break;
        }
    }
    fclose(f);
}

static void *touch_little(void *arg)
{
    volatile char buf[2048];

    buf[0] = 1;
    buf[sizeof buf - 1] = 1;
    CHECK_ERR(coro_yield(arg, NULL), 0);
    return (void *)(intptr_t)(buf[0] + buf[sizeof buf - 1]);
}

TEST(stack_has_guard_region_below_and_is_writable_above)
{
    coro *co;
    char perms[5];

    SKIP_IN_COPY_MODE();
    CHECK_ERR(coro_create(&co, touch_little, NULL), 0);
    CHECK_PTR((char *)co->stack.lo - CORO_STACK_GUARD, co->stack.map);
    perms_at((char *)co->stack.lo - 1, perms);
    CHECK_STR(perms, "---p");
    perms_at((char *)co->stack.map, perms);
    CHECK_STR(perms, "---p");
    perms_at(co->stack.lo, perms);
    CHECK_STR(perms, "rw-p");
    perms_at((char *)co->stack.lo + co->stack.size - 1, perms);
    CHECK_STR(perms, "rw-p");
    CHECK_ERR(coro_destroy(co), 0);
}

/* Pages of [p, p + len) that are resident. */
static size_t resident_pages(const void *p, size_t len)
{
    size_t n = len / page_size(), count = 0;
    unsigned char *vec = malloc(n);

    CHECK(vec != NULL);
    CHECK_INT(mincore((void *)p, len, vec), 0);
    for (size_t i = 0; i < n; i++)
        count += vec[i] & 1;
    free(vec);
    return count;
}

TEST(stack_is_committed_only_where_touched)
{
    SKIP_IN_COPY_MODE();
    coro_options opt = {8 << 20, NULL, NULL, 0};
    coro *co;
    size_t used;

    CHECK_ERR(coro_create(&co, touch_little, &opt), 0);
    CHECK_INT(co->stack.size, 8 << 20);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    used = resident_pages(co->stack.lo, co->stack.size);
    if (used > 16)
        test_fail(__FILE__, __LINE__, "%zu of %zu pages resident", used,
                  co->stack.size / page_size());
    CHECK(used >= 1);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(thousand_eight_mib_stacks_cost_little_resident_memory)
{
    coro_options opt = {8 << 20, NULL, NULL, 0};
    int n = test_slow_env() ? 4 : 1000;
    coro **cos = calloc((size_t)n, sizeof *cos);
    long before, grown;

    CHECK(cos != NULL);
    before = rss_bytes();
    for (int i = 0; i < n; i++) {
        CHECK_ERR(coro_create(&cos[i], touch_little, &opt), 0);
        CHECK_INT(coro_resume(cos[i], NULL, NULL), 1);
    }
    grown = rss_bytes() - before;
    /* Each holds a page or two of stack plus its control block: far below
     * the 8 GiB of address space the stacks span. */
    if (RSS_CHECKS && grown > (long)n * 64 * 1024)
        test_fail(__FILE__, __LINE__, "%d coroutines with 8 MiB stacks grew RSS by %ld KiB", n,
                  grown / 1024);
    for (int i = 0; i < n; i++) {
        CHECK_INT(coro_resume(cos[i], NULL, NULL), 0);
        CHECK_ERR(coro_destroy(cos[i]), 0);
    }
    free(cos);
}

/* ---- the pool ---- */

static void *yield_then_return(void *arg)
{
    CHECK_ERR(coro_yield(arg, NULL), 0);
    return arg;
}

static void create_run_destroy(const coro_options *opt)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, yield_then_return, opt), 0);
    CHECK_INT(coro_resume(co, &out, &out), 1);
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_PTR(out, &out);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(pool_makes_no_mapping_in_steady_state)
{
    coro_options opts[3] = {
        {0, NULL, NULL, 0}, {CORO_STACK_MIN, "small", NULL, 0}, {1 << 20, NULL, NULL, 0}};
    long maps;

    for (int i = 0; i < 3; i++)
        create_run_destroy(&opts[i]);
    maps = coro__live_maps();
    for (int i = 0; i < 3000; i++) {
        create_run_destroy(&opts[i % 3]);
        CHECK_INT(coro__live_maps(), maps);
    }
}

TEST(pool_reuses_the_last_freed_stack)
{
    SKIP_IN_COPY_MODE();
    coro *a, *b;
    void *map;

    CHECK_ERR(coro_create(&a, yield_then_return, NULL), 0);
    map = a->stack.map;
    CHECK_ERR(coro_destroy(a), 0);
    CHECK_ERR(coro_create(&b, yield_then_return, NULL), 0);
    CHECK_PTR(b->stack.map, map);
    CHECK_ERR(coro_destroy(b), 0);
}

static void create_many_then_destroy(int n, const coro_options *opt, long *pooled)
{
    coro **cos = calloc((size_t)n, sizeof *cos);
    long before;

    CHECK(cos != NULL);
    coro__spares_drain();
    before = coro__live_maps();
    for (int i = 0; i < n; i++)
        CHECK_ERR(coro_create(&cos[i], yield_then_return, opt), 0);
    CHECK_INT(coro__live_maps() - before, n);
    for (int i = 0; i < n; i++)
        CHECK_ERR(coro_destroy(cos[i]), 0);
    *pooled = coro__live_maps() - before;
    CHECK_INT(*pooled, (long)coro__tls->pool_len);
    CHECK(coro__tls->pool_bytes <= CORO__POOL_MAX_BYTES);
    free(cos);
}

TEST(pool_is_bounded_by_count)
{
    long pooled;

    SKIP_IN_COPY_MODE();
    create_many_then_destroy(200, NULL, &pooled);
    CHECK_INT(pooled, CORO__POOL_MAX); /* 64 stacks of 256 KiB fit the byte bound */
}

TEST(pool_is_bounded_by_bytes)
{
    SKIP_IN_COPY_MODE();
    coro_options opt = {8 << 20, NULL, NULL, 0};
    long pooled;

    create_many_then_destroy(20, &opt, &pooled);
    CHECK_INT(pooled, CORO__POOL_MAX_BYTES / (8 << 20)); /* usable bytes: guards aside */
}

TEST(pool_drain_unmaps_everything)
{
    long before;
    long pooled;

    SKIP_IN_COPY_MODE();
    coro__spares_drain();
    before = coro__live_maps();
    create_many_then_destroy(10, NULL, &pooled);
    CHECK_INT(pooled, 10);
    coro__spares_drain();
    CHECK_INT(coro__live_maps(), before);
    CHECK_INT(coro__tls->pool_len, 0);
    CHECK_INT(coro__tls->pool_bytes, 0);
}

/* ---- sizes ---- */

static void *use_8k(void *arg)
{
    volatile char buf[8192];

    buf[0] = 1;
    buf[sizeof buf - 1] = 2;
    (void)arg;
    return (void *)(intptr_t)(buf[0] + buf[sizeof buf - 1]);
}

TEST(stack_size_of_one_byte_gives_the_minimum)
{
    SKIP_IN_COPY_MODE();
    coro_options opt = {1, NULL, NULL, 0};
    void *out = NULL;
    coro *co;

    CHECK_ERR(coro_create(&co, use_8k, &opt), 0);
    CHECK_INT(co->stack.size, round_to_pages(CORO_STACK_MIN));
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_PTR(out, (void *)3);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(stack_size_is_rounded_up_to_whole_pages)
{
    SKIP_IN_COPY_MODE();
    coro_options opt = {CORO_STACK_MIN + 1, NULL, NULL, 0};
    coro *co;

    CHECK_ERR(coro_create(&co, use_8k, &opt), 0);
    CHECK_INT(co->stack.size, round_to_pages(CORO_STACK_MIN + 1));
    CHECK(co->stack.size > CORO_STACK_MIN);
    CHECK_INT(co->stack.size % page_size(), 0);
    CHECK_ERR(coro_destroy(co), 0);

    opt.stack_size = 0;
    CHECK_ERR(coro_create(&co, use_8k, &opt), 0);
    CHECK_INT(co->stack.size, CORO_STACK_DEFAULT);
    CHECK_ERR(coro_destroy(co), 0);
}

static void check_huge_fails(size_t size)
{
    coro_options opt = {size, "huge", NULL, 0};
    long allocs = coro__live_allocs(), maps = coro__live_maps();
    coro *co = (coro *)(void *)&opt;
    int err = coro_create(&co, use_8k, &opt);

    if (err != CORO_EINVAL && err != CORO_ENOMEM)
        test_fail(__FILE__, __LINE__, "stack_size %zu: %d (%s), want CORO_EINVAL or CORO_ENOMEM",
                  size, err, coro_errname(err));
    CHECK_PTR(co, NULL);
    CHECK_INT(coro__live_allocs(), allocs);
    CHECK_INT(coro__live_maps(), maps);
}

TEST(huge_stack_size_fails_cleanly)
{
    SKIP_IN_COPY_MODE();
    check_huge_fails(SIZE_MAX);
    check_huge_fails(SIZE_MAX - page_size() + 2); /* rounding up would wrap */
    check_huge_fails(SIZE_MAX / 2);
    check_huge_fails(SIZE_MAX / 2 + 1);
}

/* Beyond CORO_STACK_MAX the answer is CORO_EINVAL, as the header says,
 * whatever the system would make of it (64 TiB fits x86-64's address
 * space, and a MAP_NORESERVE mapping of it may well succeed). */
TEST(stack_size_above_the_maximum_is_einval)
{
    size_t sizes[] = {SIZE_MAX, SIZE_MAX / 2, (size_t)1 << 46, CORO_STACK_MAX + 1};
    long allocs = coro__live_allocs(), maps = coro__live_maps();

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        coro_options opt = {sizes[i], "huge", NULL, 0};
        coro *co = (coro *)(void *)&opt;

        CHECK_ERR(coro_create(&co, use_8k, &opt), CORO_EINVAL);
        CHECK_PTR(co, NULL);
    }
    CHECK_INT(coro__live_allocs(), allocs);
    CHECK_INT(coro__live_maps(), maps);
}

/* ---- many coroutines ---- */

TEST(million_create_run_destroy_cycles_keep_memory_flat)
{
    /* ASan with detect_stack_use_after_return maps a fake stack for every
     * new coroutine (tens of microseconds), and TSan a fiber, so they get
     * fewer cycles too. */
    long cycles = test_slow_env() ? 20000 : SANITIZER ? 100000 : 1000000;
    long mark = cycles / 10;
    long rss_mark = 0, maps_mark = 0, allocs_mark = 0;
    coro_options named = {0, "cycle", NULL, 0};

    for (long i = 0; i < cycles; i++) {
        create_run_destroy(i % 2 ? &named : NULL);
        if (i == mark) {
            rss_mark = rss_bytes();
            maps_mark = coro__live_maps();
            allocs_mark = coro__live_allocs();
        }
    }
    CHECK_INT(coro__live_maps(), maps_mark);
    CHECK_INT(coro__live_allocs(), allocs_mark);
    if (RSS_CHECKS) {
        long grown = rss_bytes() - rss_mark;
        if (grown >= 1 << 20 || grown <= -(1 << 20))
            test_fail(__FILE__, __LINE__, "RSS moved by %ld KiB between cycle %ld and %ld",
                      grown / 1024, mark, cycles);
    }
}

static void *count_yields(void *arg)
{
    intptr_t n = (intptr_t)arg;
    void *in = NULL;

    CHECK_ERR(coro_yield((void *)(n + 1), &in), 0);
    CHECK_PTR(in, (void *)(n + 2));
    CHECK_ERR(coro_yield((void *)(n + 3), &in), 0);
    CHECK_PTR(in, (void *)(n + 4));
    return (void *)(n + 5);
}

TEST(ten_thousand_coroutines_alive_each_yield_twice)
{
    int n = ALIVE(test_slow_env() ? 1000 : 10000);
    coro **cos = calloc((size_t)n, sizeof *cos);
    void *out;

    CHECK(cos != NULL);
    for (int i = 0; i < n; i++)
        CHECK_ERR(coro_create(&cos[i], count_yields, NULL), 0);
    for (int i = 0; i < n; i++) {
        CHECK_INT(coro_resume(cos[i], (void *)(intptr_t)(10 * i), &out), 1);
        CHECK_PTR(out, (void *)(intptr_t)(10 * i + 1));
    }
    for (int i = 0; i < n; i++) {
        CHECK_INT(coro_resume(cos[i], (void *)(intptr_t)(10 * i + 2), &out), 1);
        CHECK_PTR(out, (void *)(intptr_t)(10 * i + 3));
    }
    for (int i = 0; i < n; i++) {
        CHECK_INT(coro_status(cos[i]), CORO_SUSPENDED);
        CHECK_INT(coro_resume(cos[i], (void *)(intptr_t)(10 * i + 4), &out), 0);
        CHECK_PTR(out, (void *)(intptr_t)(10 * i + 5));
        CHECK_INT(coro_status(cos[i]), CORO_DEAD);
    }
    for (int i = 0; i < n; i++)
        CHECK_ERR(coro_destroy(cos[i]), 0);
    free(cos);
}

/* ---- signals inside coroutines ---- */

static volatile sig_atomic_t usr1_seen;
static volatile uintptr_t usr1_sp;

static void on_usr1(int sig)
{
    volatile char local = 0;

    (void)sig;
    usr1_sp = (uintptr_t)&local;
    usr1_seen++;
}

static void *raise_inside(void *arg)
{
    (void)arg;
    raise(SIGUSR1);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    raise(SIGUSR1);
    return NULL;
}

TEST(signal_handler_runs_on_coroutine_stack)
{
    struct sigaction sa, old;
    coro *co;
    uintptr_t lo, hi;

    SKIP_IN_COPY_MODE();
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK_INT(sigaction(SIGUSR1, &sa, &old), 0);
    CHECK_ERR(coro_create(&co, raise_inside, NULL), 0);
    lo = (uintptr_t)co->stack.lo;
    hi = lo + co->stack.size;
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_INT(usr1_seen, 1);
#ifdef CORO__ASAN /* ASan may put the handler's local on its fake stack */
    (void)lo, (void)hi;
#else
    CHECK(usr1_sp >= lo && usr1_sp < hi);
#endif
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_INT(usr1_seen, 2);
    CHECK_ERR(coro_destroy(co), 0);
    sigaction(SIGUSR1, &old, NULL);
}
