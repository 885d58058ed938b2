/*
 * test_offload.c - blocking work on the loop's thread pool: it runs on
 * another thread while other tasks go on, results come back, callers can
 * give up at a deadline or on cancellation without leaking, and name
 * resolution through it.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

static pthread_t loop_thread;

static int ticks; /* the loop's ticker, read by the pool's threads (atomic) */

/* A job that ends only once the loop's ticker has ticked three times (10 s
 * at most): it can end only if the loop ran meanwhile. */
static void *on_pool(void *arg)
{
    for (int i = 0; i < 10000 && __atomic_load_n(&ticks, __ATOMIC_ACQUIRE) < 3; i++)
        usleep(1000);
    return P(!pthread_equal(pthread_self(), loop_thread) ? N(arg) * 2 : -1);
}

static void *tick(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
        __atomic_add_fetch(&ticks, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *offload_one(void *arg)
{
    void *out = NULL;

    CHECK_ERR(coro_offload(on_pool, arg, &out), 0);
    return out;
}

static void *offload_main(void *arg)
{
    coro_task *t[12];
    void *out;

    (void)arg;
    loop_thread = pthread_self();
    CHECK_ERR(coro_spawn(NULL, tick, NULL, NULL), 0);
    for (long i = 0; i < 12; i++)
        CHECK_ERR(coro_spawn(&t[i], offload_one, P(i + 1), NULL), 0);
    for (long i = 0; i < 12; i++) {
        CHECK_ERR(coro_await(t[i], &out), 0);
        CHECK_INT(N(out), (i + 1) * 2); /* ran off the loop's thread */
    }
    CHECK_INT(__atomic_load_n(&ticks, __ATOMIC_ACQUIRE), 3); /* the loop ran the ticker meanwhile */
    return NULL;
}

TEST(offloaded_work_runs_on_the_pool_while_other_tasks_go_on)
{
    CHECK_ERR(coro_run(offload_main, NULL, NULL, NULL), 0);
}

static void *slow(void *arg)
{
    (void)arg;
    usleep(50000);
    return P(1);
}

static void *give_up(void *arg)
{
    void *out = P(7);

    (void)arg;
    CHECK_ERR(coro_offload_until(slow, NULL, &out, coro_after(CORO_MSEC(5))), CORO_ETIMEDOUT);
    CHECK_INT(N(out), 7); /* untouched */
    return NULL;          /* the slow one finishes on its thread; coro_run joins it */
}

static void *offload_one_canceled(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    return P(coro_offload(slow, NULL, NULL));
}

static void *cancel_while_waiting(void *arg)
{
    coro_task *t;
    void *out;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, offload_one_canceled, NULL, NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_await(t, &out), CORO_ETASKCANCELED);
    CHECK_ERR((int)N(out), CORO_ECANCELED);
    return NULL;
}

TEST(callers_may_give_up_at_a_deadline_or_on_cancel_and_nothing_leaks)
{
    CHECK_ERR(coro_run(give_up, NULL, NULL, NULL), 0);
    CHECK_ERR(coro_run(cancel_while_waiting, NULL, NULL, NULL), 0);
}

static void *lookups(void *arg)
{
    struct addrinfo hints, *res = (struct addrinfo *)1, *ai;
    int rc, loopback = 0;

    (void)arg;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    CHECK_ERR(coro_getaddrinfo("localhost", "80", &hints, &res, coro_after(CORO_SEC(10))), 0);
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            struct sockaddr_in sin;

            memcpy(&sin, ai->ai_addr, sizeof sin);
            loopback |= sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
        }
        if (ai->ai_family == AF_INET6)
            loopback |= 1;
    }
    CHECK(loopback);
    freeaddrinfo(res);
    rc = coro_getaddrinfo("no-such-host.invalid", NULL, &hints, &res, coro_after(CORO_SEC(5)));
    CHECK(rc == CORO_ENOENT || rc == CORO_EIO || rc == CORO_ETIMEDOUT);
    CHECK_PTR(res, NULL);
    /* A deadline that has passed: a time-out unless the lookup was done at
     * once; after a time-out its thread frees it. */
    for (int i = 0; i < 20; i++) {
        rc = coro_getaddrinfo("localhost", NULL, NULL, &res, coro_now() - 1);
        CHECK(rc == 0 || rc == CORO_ETIMEDOUT);
        CHECK(rc == 0 ? res != NULL : res == NULL);
        if (res != NULL)
            freeaddrinfo(res);
    }
    CHECK_ERR(coro_getaddrinfo(NULL, NULL, NULL, &res, CORO_NEVER), CORO_EINVAL);
    CHECK_ERR(coro_getaddrinfo("localhost", NULL, NULL, NULL, CORO_NEVER), CORO_EINVAL);
    return NULL;
}

TEST(name_resolution_runs_on_the_pool_with_a_deadline)
{
    CHECK_ERR(coro_run(lookups, NULL, NULL, NULL), 0);
}

static void *offload_misuse(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_offload(NULL, NULL, NULL), CORO_EINVAL);
    return NULL;
}

TEST(offload_misuse_is_refused)
{
    struct addrinfo *res;

    CHECK_ERR(coro_offload(slow, NULL, NULL), CORO_ENOLOOP);
    CHECK_ERR(coro_getaddrinfo("localhost", NULL, NULL, &res, CORO_NEVER), CORO_ENOLOOP);
    CHECK_ERR(coro_run(offload_misuse, NULL, NULL, NULL), 0);
}

/* ---- no lost wake-ups ---- */

static void *nothing_much(void *arg)
{
    return arg;
}

static void *offload_many(void *arg)
{
    for (long i = 0; i < 40; i++) {
        void *out = NULL;
        CHECK_ERR(coro_offload(nothing_much, P(i), &out), 0);
        CHECK_INT(N(out), i);
    }
    (*(int *)arg)++;
    return NULL;
}

static void *storm(void *arg)
{
    for (int i = 0; i < 50; i++)
        CHECK_ERR(coro_spawn(NULL, offload_many, arg, NULL), 0);
    return NULL;
}

TEST(fifty_tasks_offloading_tiny_jobs_in_turn_all_finish)
{
    int finished = 0;

    /* Completions racing the drain of the pool's eventfd once lost a
     * wake-up and hung the loop; a hang fails this by the runner's timeout. */
    for (int round = 0; round < (test_slow_env() ? 2 : 20); round++)
        CHECK_ERR(coro_run(storm, &finished, NULL, NULL), 0);
    CHECK_INT(finished, 50 * (test_slow_env() ? 2 : 20));
}

/* ---- the pool grows on demand, up to CORO_OFFLOAD_THREADS ---- */

static void *sleep_ms(void *arg)
{
    usleep((useconds_t)N(arg) * 1000);
    return arg;
}

static void *abandon(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_offload_until(sleep_ms, P(600), NULL, coro_after(CORO_MSEC(10))),
              CORO_ETIMEDOUT);
    return NULL;
}

static void *abandoned_then_quick(void *arg)
{
    coro_task *t[4];
    void *out = NULL;
    coro_time t0;

    (void)arg;
    for (int i = 0; i < 4; i++)
        CHECK_ERR(coro_spawn(&t[i], abandon, NULL, NULL), 0);
    for (int i = 0; i < 4; i++)
        CHECK_ERR(coro_await(t[i], NULL), 0);
    t0 = coro_now(); /* four threads still sleep for the callers that left */
    CHECK_ERR(coro_offload(sleep_ms, P(1), &out), 0);
    CHECK_PTR(out, P(1));
    CHECK(coro_now() - t0 < CORO_MSEC(300) || test_slow_env());
    return NULL;
}

TEST(jobs_abandoned_at_their_deadline_hold_up_no_other_job)
{
    CHECK_INT(unsetenv("CORO_OFFLOAD_THREADS"), 0);
    CHECK_ERR(coro_run(abandoned_then_quick, NULL, NULL, NULL), 0);
}

static void *sleep_50(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_offload(sleep_ms, P(50), NULL), 0);
    return NULL;
}

/* Two tasks offload 50 ms each at once: the time both take. */
static void *two_at_once(void *arg)
{
    coro_task *a, *b;
    coro_time t0 = coro_now();

    CHECK_ERR(coro_spawn(&a, sleep_50, NULL, NULL), 0);
    CHECK_ERR(coro_spawn(&b, sleep_50, NULL, NULL), 0);
    CHECK_ERR(coro_await(a, NULL), 0);
    CHECK_ERR(coro_await(b, NULL), 0);
    *(coro_time *)arg = coro_now() - t0;
    return NULL;
}

static coro_time both_take(const char *threads)
{
    coro_time took = 0;

    if (threads != NULL)
        CHECK_INT(setenv("CORO_OFFLOAD_THREADS", threads, 1), 0);
    else
        CHECK_INT(unsetenv("CORO_OFFLOAD_THREADS"), 0);
    CHECK_ERR(coro_run(two_at_once, &took, NULL, NULL), 0);
    CHECK_INT(unsetenv("CORO_OFFLOAD_THREADS"), 0);
    return took;
}

TEST(coro_offload_threads_bounds_the_pool_and_bad_values_are_ignored)
{
    CHECK(both_take("1") >= CORO_MSEC(100)); /* one thread: in turn */
    if (test_slow_env())
        return;
    CHECK(both_take(NULL) < CORO_MSEC(95)); /* the default: side by side */
    CHECK(both_take("2") < CORO_MSEC(95));
    CHECK(both_take("0") < CORO_MSEC(95)); /* out of range: the default */
    CHECK(both_take("many") < CORO_MSEC(95));
}

/* Two tasks offload 50 ms each with the option's bound: the time both
 * take. The option wins over the environment. */
static coro_time both_take_opt(int threads)
{
    coro_run_options o = {0, 0, 0, 0, 0, 0};
    coro_time took = 0;

    o.offload_threads = threads;
    CHECK_INT(setenv("CORO_OFFLOAD_THREADS", "8", 1), 0);
    CHECK_ERR(coro_run(two_at_once, &took, NULL, &o), 0);
    CHECK_INT(unsetenv("CORO_OFFLOAD_THREADS"), 0);
    return took;
}

TEST(the_offload_threads_option_bounds_the_pool_before_the_environment)
{
    coro_run_options bad = {0, 0, 0, 0, 0, -1};
    coro_time took = 0;

    CHECK(both_take_opt(1) >= CORO_MSEC(100)); /* one thread: in turn */
    if (!test_slow_env())
        CHECK(both_take_opt(0) < CORO_MSEC(95)); /* 0: the environment's 8 */
    CHECK_ERR(coro_run(two_at_once, &took, NULL, &bad), CORO_EINVAL);
    bad.offload_threads = 1025;
    CHECK_ERR(coro_run(two_at_once, &took, NULL, &bad), CORO_EINVAL);
}
