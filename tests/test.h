/*
 * test.h - the test harness: TEST(name) defines a test, CHECK* assert and
 * print both sides. Each test runs in its own process with a timeout and
 * must leave no coroutine memory behind (see runner.c).
 */
#ifndef CORO_TEST_H
#define CORO_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "coro.h"

typedef void (*test_fn)(void);

/* An integer as a coroutine value, and back. */
#define P(n) ((void *)(uintptr_t)(n))
#define N(p) ((long)(uintptr_t)(p))

/* A log of events, for checking the order things happen in: log_add appends
 * a string to log_buf; log_cleanup(arg) is log_add as a coro_defer cleanup. */
extern char log_buf[256];
void log_add(const char *s);
void log_cleanup(void *arg);

/* Spawns fn(NULL), awaits it, and checks that it failed with the error
 * message msg (now the caller's); returns its error value. */
#define AWAIT_FAILURE(fn, msg) await_failure_at((fn), (msg), __FILE__, __LINE__)
void *await_failure_at(coro_fn fn, const char *msg, const char *file, int line);

void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...) CORO_PRINTF(3, 4);
/* 1 when the tests run under valgrind or qemu, which are much slower. */
int test_slow_env(void);
/* Closes the fds given, up to a -1, through the running loop
 * (coro_fd_close); each must close. */
void close_all(int fd, ...);
/* The monotonic clock in seconds, outside any loop's clock; and work for
 * that long without a pause (no blocking call: the loop runs nothing else). */
double test_seconds(void);
void test_busy(double seconds);
/* Runs fn as coro_run(fn, arg, NULL, opt) does with stderr going to a
 * file, and returns its result; what was written is in test_captured. */
extern char test_captured[8192];
int test_run_capturing(coro_fn fn, void *arg, const coro_run_options *opt);
/* Task options that place a task on loop i of the running run; and a
 * spawn there, checked, returning the handle. */
coro_task_options test_on_loop(int i);
coro_task *test_spawn_on(int i, coro_fn fn, void *arg);
/* A task body that waits for the coro_event *arg, checked: a task parked
 * until a test opens the gate. */
void *test_wait_event(void *arg);

/* Tests of a coroutine's own stack (its guard page, the pool, stack_size)
 * do not apply when the build makes every coroutine copy-stack (make
 * STACK=copy); they start with this. */
#ifdef CORO_DEFAULT_COPY_STACK
#define SKIP_IN_COPY_MODE()                                                                        \
    do {                                                                                           \
        return;                                                                                    \
    } while (0)
#else
#define SKIP_IN_COPY_MODE() ((void)0)
#endif

/* Tests that keep many coroutines alive at once keep at most ALIVE_MAX
 * where the build cannot hold more: gcc's ThreadSanitizer runtime before
 * gcc 13 (TSan's old runtime) counts every fiber as a thread, allows 8,128
 * threads and maps memory for each. */
#if defined(CORO__TSAN) && !defined(__clang__) && __GNUC__ < 13
#define ALIVE_MAX 4000
#else
#define ALIVE_MAX 1000000000
#endif
#define ALIVE(n) ((n) < ALIVE_MAX ? (n) : ALIVE_MAX)

/* Tests that cannot work under ThreadSanitizer (make SANITIZE=thread)
 * start with this and the reason: TSan's own mappings and memory, per
 * fiber, change what they count or limit. */
#ifdef CORO__TSAN
#define SKIP_UNDER_TSAN(why)                                                                       \
    do {                                                                                           \
        (void)(why);                                                                               \
        return;                                                                                    \
    } while (0)
#else
#define SKIP_UNDER_TSAN(why) ((void)0)
#endif

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        test_register(#name, test_##name);                                                         \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #c);                                        \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);               \
    } while (0)

/* An int result against an expected coro code, printing both names. */
#define CHECK_ERR(a, b)                                                                            \
    do {                                                                                           \
        int a_ = (a), b_ = (b);                                                                    \
        if (a_ != b_)                                                                              \
            test_fail(__FILE__, __LINE__, "%s == %s: %d (%s) != %d (%s)", #a, #b, a_,              \
                      coro_errname(a_), b_, coro_errname(b_));                                     \
    } while (0)

#define CHECK_PTR(a, b)                                                                            \
    do {                                                                                           \
        const void *a_ = (const void *)(a), *b_ = (const void *)(b);                               \
        if (a_ != b_)                                                                              \
            test_fail(__FILE__, __LINE__, "%s == %s: %p != %p", #a, #b, a_, b_);                   \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                       \
            test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                    \
                      a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                     \
    } while (0)

#endif
