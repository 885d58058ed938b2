/*
 * test_sched.c - the loop and its tasks: run, spawn, yield, await, errors
 * and who gets them, cancellation, no orphans, the deadlock report, seeded
 * order, the virtual clock, the watchdog, dumps, and misuse.
 */
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

static coro_run_options virt = {CORO_RUN_VIRTUAL_CLOCK, 0, 0, 0, 0, 0};

/* ---- run, spawn, yield ---- */

static void *step_twice(void *arg)
{
    const char *name = arg;
    char s[8];

    snprintf(s, sizeof s, "%s1 ", name);
    log_add(s);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    snprintf(s, sizeof s, "%s2 ", name);
    log_add(s);
    return NULL;
}

static void *spawn_a_b(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_spawn(NULL, step_twice, "A", NULL), 0);
    CHECK_ERR(coro_spawn(NULL, step_twice, "B", NULL), 0);
    log_add("main ");
    return P(7);
}

TEST(tasks_interleave_in_fifo_order_and_run_waits_for_all)
{
    void *out = NULL;

    log_buf[0] = '\0';
    CHECK_ERR(coro_run(spawn_a_b, NULL, &out, NULL), 0);
    CHECK_INT(N(out), 7);
    CHECK_STR(log_buf, "main A1 B1 A2 B2 ");
}

static void *nested_run(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_run(spawn_a_b, NULL, NULL, NULL), CORO_EBUSY);
    return NULL;
}

TEST(run_refuses_bad_input_and_a_second_loop_on_the_thread)
{
    CHECK_ERR(coro_run(NULL, NULL, NULL, NULL), CORO_EINVAL);
    CHECK_ERR(coro_run(nested_run, NULL, NULL, NULL), 0);
}

/* ---- await and errors ---- */

static void *twice(void *arg)
{
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    return P(N(arg) * 2);
}

static void *fail_later(void *arg)
{
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    coro_error_value(arg, "failed with %d", 3);
    return NULL;
}

static void *await_all(void *arg)
{
    coro_task *a, *b, *f;
    void *out = NULL;
    int token;

    (void)arg;
    CHECK_ERR(coro_spawn(&a, twice, P(21), NULL), 0);
    CHECK_ERR(coro_spawn(&b, twice, P(5), NULL), 0);
    CHECK_ERR(coro_spawn(&f, fail_later, &token, NULL), 0);
    CHECK_ERR(coro_await(b, &out), 0);
    CHECK_INT(N(out), 10);
    CHECK_ERR(coro_await(a, &out), 0);
    CHECK_INT(N(out), 42);
    CHECK_ERR(coro_await(f, &out), CORO_EERROR);
    CHECK_PTR(out, &token);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "failed with 3");
    return NULL;
}

TEST(await_returns_results_and_errors_with_their_message)
{
    CHECK_ERR(coro_run(await_all, NULL, NULL, &virt), 0);
}

static void *await_misuse(void *arg)
{
    coro_task *t, *other;
    void *out = P(1);

    (void)arg;
    CHECK_ERR(coro_await(coro_task_self(), NULL), CORO_ESELF);
    CHECK_ERR(coro_await(NULL, NULL), CORO_EINVAL);
    CHECK_ERR(coro_spawn(&t, twice, P(1), NULL), 0);
    CHECK_ERR(coro_await_until(t, &out, coro_after(CORO_MSEC(1))), CORO_ETIMEDOUT);
    CHECK_INT(N(out), 1); /* untouched; the handle is still valid */
    CHECK_ERR(coro_await_until(t, NULL, coro_now() - 1), CORO_ETIMEDOUT);
    CHECK_ERR(coro_spawn(&other, twice, P(3), NULL), 0);
    CHECK_ERR(coro_await(t, &out), 0);
    CHECK_INT(N(out), 2);
    return NULL; /* `other` is never awaited: freed when this task ends */
}

TEST(await_misuse_is_refused_and_a_timed_out_await_keeps_the_handle)
{
    CHECK_ERR(coro_run(await_misuse, NULL, NULL, &virt), 0);
}

/* A handle used after its end (a second await, a cancel, the task's name)
 * is refused: after its await, after the end of the task that spawned it,
 * once its record runs another task, and after its run has ended. */
static coro_task *kept;

static void *spawns_and_leaves(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_spawn(&kept, twice, P(5), NULL), 0);
    return NULL; /* kept ends with this task */
}

static void *ended_handles(void *arg)
{
    coro_task *t, *s, *u;
    void *out = NULL;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, twice, P(1), NULL), 0);
    CHECK_ERR(coro_await(t, &out), 0);
    CHECK_INT(N(out), 2);
    CHECK_ERR(coro_await(t, &out), CORO_EINVAL);
    CHECK_ERR(coro_cancel(t), CORO_EINVAL);
    CHECK(coro_task_name(t) == NULL);
    CHECK_INT(coro_task_id(t), 0);
    CHECK_ERR(coro_spawn(&u, twice, P(3), NULL), 0); /* t's record, reused */
    CHECK(u != t);
    CHECK_ERR(coro_await(t, NULL), CORO_EINVAL);
    CHECK_ERR(coro_cancel(t), CORO_EINVAL);
    CHECK_ERR(coro_await(u, &out), 0);
    CHECK_INT(N(out), 6);
    CHECK_ERR(coro_spawn(&s, spawns_and_leaves, NULL, NULL), 0);
    CHECK_ERR(coro_await(s, NULL), 0);
    CHECK_ERR(coro_await(kept, NULL), CORO_EINVAL);
    CHECK_ERR(coro_cancel(kept), CORO_EINVAL);
    CHECK_ERR(coro_spawn(&kept, twice, P(7), NULL), 0); /* outlives the run */
    return NULL;
}

static void *awaits_kept(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_await(kept, NULL), CORO_EINVAL);
    CHECK_ERR(coro_cancel(kept), CORO_EINVAL);
    return NULL;
}

TEST(a_handle_used_after_its_end_is_refused)
{
    CHECK_ERR(coro_run(ended_handles, NULL, NULL, &virt), 0);
    CHECK(coro_task_name(kept) == NULL); /* its run has ended */
    CHECK_INT(coro_task_id(kept), 0);
    CHECK_ERR(coro_run(awaits_kept, NULL, NULL, NULL), 0);
}

/* A handle is its spawner's loop's: from a task of another loop (another
 * thread) every call refuses it without touching the task's record. */
static coro_task *foreign;

static void *uses_foreign(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_await(foreign, NULL), CORO_EINVAL);
    CHECK_ERR(coro_cancel(foreign), CORO_EINVAL);
    CHECK(coro_task_name(foreign) == NULL);
    CHECK_INT(coro_task_id(foreign), 0);
    return NULL;
}

static void *foreign_main(void *arg)
{
    coro_task_options o = {"named", 0, NULL, 0, NULL};
    void *out = NULL;

    (void)arg;
    CHECK_ERR(coro_spawn(&foreign, twice, P(4), &o), 0);
    CHECK_ERR(coro_await(test_spawn_on(1, uses_foreign, NULL), NULL), 0);
    CHECK(strcmp(coro_task_name(foreign), "named") == 0);
    CHECK(coro_task_id(foreign) != 0);
    CHECK_ERR(coro_await(foreign, &out), 0);
    CHECK_INT(N(out), 8);
    return NULL;
}

TEST(a_handle_used_on_another_loop_is_refused)
{
    coro_run_options two = {0, 0, 0, 0, 2, 0};

    CHECK_ERR(coro_run(foreign_main, NULL, NULL, &two), 0);
}

static coro_task *awaited_twice;

static void *await_it(void *arg)
{
    (void)arg;
    return P(coro_await(awaited_twice, NULL));
}

static void *double_await(void *arg)
{
    coro_task *first;
    void *out;

    (void)arg;
    CHECK_ERR(coro_spawn(&awaited_twice, twice, P(1), NULL), 0);
    CHECK_ERR(coro_spawn(&first, await_it, NULL, NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* first is now waiting */
    CHECK_ERR(coro_await(awaited_twice, NULL), CORO_EBUSY);
    CHECK_ERR(coro_await(first, &out), 0);
    CHECK_ERR((int)N(out), 0);
    return NULL;
}

TEST(a_second_awaiter_of_one_task_is_refused)
{
    CHECK_ERR(coro_run(double_await, NULL, NULL, &virt), 0);
}

static void *sleep_5ms(void *arg)
{
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    return arg;
}

static void *sleep_then_await(void *arg)
{
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    return P(coro_await(arg, NULL));
}

/* The awaited task ends, which readies its awaiter; another task that
 * runs before that awaiter and awaits the same task is refused, not
 * handed the end (which the first awaiter then took again: the record
 * freed twice). */
static void *second_awaiter_after_the_end(void *arg)
{
    coro_task *t1, *t2, *t3;
    void *out = NULL;

    (void)arg;
    CHECK_ERR(coro_spawn(&t1, sleep_5ms, P(7), NULL), 0);
    CHECK_ERR(coro_spawn(&t2, await_it, NULL, NULL), 0);
    awaited_twice = t1;
    CHECK_ERR(coro_spawn(&t3, sleep_then_await, t1, NULL), 0);
    CHECK_ERR(coro_await(t3, &out), 0);
    CHECK_ERR((int)N(out), CORO_EBUSY);
    CHECK_ERR(coro_await(t2, &out), 0);
    CHECK_ERR((int)N(out), 0); /* the first awaiter has the end */
    return NULL;
}

TEST(a_second_awaiter_after_the_end_but_before_the_first_runs_is_refused)
{
    CHECK_ERR(coro_run(second_awaiter_after_the_end, NULL, NULL, &virt), 0);
}

static void *raise_in_main(void *arg)
{
    (void)arg;
    coro_error("main failed");
    return NULL;
}

TEST(error_of_the_main_task_is_returned_by_run)
{
    CHECK_ERR(coro_run(raise_in_main, NULL, NULL, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "main failed");
}

static int main_saw;

static void *spawn_detached_failure(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_spawn(NULL, fail_later, NULL, NULL), 0);
    main_saw = coro_sleep(CORO_SEC(10)); /* canceled by the child's failure */
    return NULL;
}

TEST(failure_of_a_detached_task_cancels_and_fails_its_owner)
{
    main_saw = 0;
    CHECK_ERR(coro_run(spawn_detached_failure, NULL, NULL, &virt), CORO_EERROR);
    CHECK_ERR(main_saw, CORO_ECANCELED);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "failed with 3");
}

static void *spawn_unawaited_failure(void *arg)
{
    coro_task *t;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, fail_later, NULL, NULL), 0);
    return NULL; /* never awaits t */
}

TEST(failure_of_a_task_nobody_awaited_fails_its_owner)
{
    CHECK_ERR(coro_run(spawn_unawaited_failure, NULL, NULL, &virt), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "failed with 3");
}

/* ---- no orphans ---- */

static void *sleep_log(void *arg)
{
    CHECK_ERR(coro_sleep(CORO_MSEC(N(arg))), 0);
    log_add(N(arg) == 1 ? "grandchild " : "child ");
    return NULL;
}

static void *spawn_grandchild(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_spawn(NULL, sleep_log, P(1), NULL), 0);
    log_add("child-body-end ");
    return NULL;
}

static void *owner(void *arg)
{
    coro_task *t;
    void *out;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, spawn_grandchild, NULL, NULL), 0);
    CHECK_ERR(coro_await(t, &out), 0); /* returns only after the grandchild */
    log_add("awaited ");
    CHECK_ERR(coro_spawn(NULL, sleep_log, P(2), NULL), 0);
    return NULL; /* run returns only after that child */
}

TEST(a_task_ends_only_after_the_tasks_it_started)
{
    log_buf[0] = '\0';
    CHECK_ERR(coro_run(owner, NULL, NULL, &virt), 0);
    CHECK_STR(log_buf, "child-body-end grandchild awaited child ");
}

/* ---- cancellation ---- */

struct cancel_probe {
    int first, second, grandchild;
    int cleaned;
};

static void note_clean(void *arg)
{
    ((struct cancel_probe *)arg)->cleaned++;
}

static void *sleep_probe_grandchild(void *arg)
{
    struct cancel_probe *p = arg;

    p->grandchild = coro_sleep(CORO_SEC(100));
    return NULL;
}

static void *cancel_target(void *arg)
{
    struct cancel_probe *p = arg;

    CHECK_ERR(coro_defer(note_clean, p), 0);
    CHECK_ERR(coro_spawn(NULL, sleep_probe_grandchild, p, NULL), 0);
    p->first = coro_sleep(CORO_SEC(100));
    p->second = coro_sleep(CORO_MSEC(1)); /* level-triggered: fails too */
    return P(5);
}

static void *cancel_main(void *arg)
{
    struct cancel_probe *p = arg;
    coro_task *t;
    void *out = NULL;

    CHECK_ERR(coro_spawn(&t, cancel_target, p, NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(10)), 0);
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_cancel(t), 0); /* again: nothing more */
    CHECK_ERR(coro_await(t, &out), CORO_ETASKCANCELED);
    CHECK_INT(N(out), 5);
    CHECK_ERR(coro_cancel(NULL), CORO_EINVAL);
    return NULL;
}

TEST(cancel_fails_blocking_calls_runs_cleanups_and_reaches_owned_tasks)
{
    struct cancel_probe p = {0, 0, 0, 0};

    CHECK_ERR(coro_run(cancel_main, &p, NULL, &virt), 0);
    CHECK_ERR(p.first, CORO_ECANCELED);
    CHECK_ERR(p.second, CORO_ECANCELED);
    CHECK_ERR(p.grandchild, CORO_ECANCELED);
    CHECK_INT(p.cleaned, 1);
}

static void *cancel_self(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_cancel(coro_task_self()), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), CORO_ECANCELED);
    return NULL;
}

TEST(a_task_may_cancel_itself)
{
    CHECK_ERR(coro_run(cancel_self, NULL, NULL, &virt), 0);
}

/* ---- deadlock ---- */

static coro_chan *stuck_chan;

static void *stuck_recv(void *arg)
{
    int v;

    CHECK_ERR(coro_defer(log_cleanup, "stuck-cleanup "), 0);
    (void)arg;
    return P(coro_chan_recv(stuck_chan, &v));
}

static void *deadlock_main(void *arg)
{
    coro_task *t;
    coro_task_options named = {"forgotten consumer", 0, NULL, 0, NULL};

    (void)arg;
    CHECK_ERR(coro_chan_open(&stuck_chan, sizeof(int), 0), 0);
    CHECK_ERR(coro_spawn(&t, stuck_recv, NULL, &named), 0);
    coro_await(t, NULL);
    return NULL;
}

TEST(deadlock_is_reported_with_each_task_and_what_it_waits_on)
{
    log_buf[0] = '\0';
    CHECK_ERR(test_run_capturing(deadlock_main, NULL, NULL), CORO_EDEADLK);
    CHECK(strstr(test_captured, "all tasks are asleep - deadlock!") != NULL);
    CHECK(strstr(test_captured, "\"forgotten consumer\": blocked on chan recv") != NULL);
    CHECK(strstr(test_captured, "spawned at tests/test_sched.c:") != NULL);
    CHECK(strstr(test_captured, "\"main\": blocked on await") != NULL);
    CHECK(strstr(test_captured, "never finished") != NULL);
    CHECK_STR(log_buf, "stuck-cleanup "); /* closed: its cleanup ran */
    CHECK_ERR(coro_chan_free(stuck_chan), 0);
}

/* ---- seeded order ---- */

static char trace[512];

static void *tracer(void *arg)
{
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(trace);
        snprintf(trace + n, sizeof trace - n, "%ld", N(arg));
        CHECK_ERR(coro_yield(NULL, NULL), 0);
    }
    return NULL;
}

static void *spawn_tracers(void *arg)
{
    (void)arg;
    for (long i = 0; i < 5; i++)
        CHECK_ERR(coro_spawn(NULL, tracer, P(i), NULL), 0);
    return NULL;
}

static void run_traced(unsigned long long seed, char *out)
{
    coro_run_options o = {CORO_RUN_SEEDED, seed, 0, 0, 0, 0};

    trace[0] = '\0';
    CHECK_ERR(coro_run(spawn_tracers, NULL, NULL, seed != 0 ? &o : NULL), 0);
    strcpy(out, trace);
}

TEST(seeded_runs_replay_and_different_seeds_interleave_differently)
{
    char fifo[512], a[512], b[512], c[512];
    int differ = 0;

    run_traced(0, fifo);
    CHECK_STR(fifo, "01234012340123401234");
    run_traced(42, a);
    run_traced(42, b);
    CHECK_STR(a, b);
    CHECK_INT(strlen(a), 20);
    for (unsigned long long s = 1; s <= 8; s++) {
        run_traced(s, c);
        differ += strcmp(c, a) != 0;
    }
    CHECK(differ >= 7);
}

/* ---- time ---- */

static void *hour_of_sleeps(void *arg)
{
    coro_time t0 = coro_now();

    (void)arg;
    for (int i = 0; i < 3600; i++)
        CHECK_ERR(coro_sleep(CORO_SEC(1)), 0);
    CHECK_INT(coro_now() - t0, CORO_SEC(3600));
    return NULL;
}

TEST(virtual_clock_runs_an_hour_of_sleeps_at_once)
{
    double t0 = test_seconds();

    CHECK_ERR(coro_run(hour_of_sleeps, NULL, NULL, &virt), 0);
    CHECK(test_seconds() - t0 < 5.0); /* well under; 5 s leaves room for valgrind */
}

static void *sleeper_order(void *arg)
{
    char s[8];

    CHECK_ERR(coro_sleep_until(CORO_SEC(1)), 0);
    snprintf(s, sizeof s, "%ld ", N(arg));
    log_add(s);
    return NULL;
}

static void *equal_deadlines(void *arg)
{
    (void)arg;
    for (long i = 0; i < 6; i++)
        CHECK_ERR(coro_spawn(NULL, sleeper_order, P(i), NULL), 0);
    return NULL;
}

TEST(equal_deadlines_fire_in_the_order_they_were_set)
{
    log_buf[0] = '\0';
    CHECK_ERR(coro_run(equal_deadlines, NULL, NULL, &virt), 0);
    CHECK_STR(log_buf, "0 1 2 3 4 5 ");
}

static void *real_sleep(void *arg)
{
    coro_time t0 = coro_now();

    (void)arg;
    CHECK_ERR(coro_sleep(CORO_MSEC(20)), 0);
    CHECK(coro_now() - t0 >= CORO_MSEC(20));
    CHECK_ERR(coro_sleep(0), 0);
    CHECK_ERR(coro_sleep(-5), 0);
    CHECK_ERR(coro_sleep_until(0), 0);
    return NULL;
}

TEST(sleep_on_the_real_clock_lasts_at_least_its_time)
{
    CHECK_ERR(coro_run(real_sleep, NULL, NULL, NULL), 0);
    CHECK(coro_after(CORO_NEVER) == CORO_NEVER);
    CHECK(coro_after(CORO_SEC(1)) > coro_now());
}

struct storm {
    int canceled;
};

static void *sleep_count(void *arg)
{
    struct storm *s = arg;

    s->canceled += coro_sleep(CORO_SEC(1 + coro_task_id(coro_task_self()) % 97)) == CORO_ECANCELED;
    return NULL;
}

static void *cancel_storm(void *arg)
{
    coro_task *t[300];

    for (int i = 0; i < 300; i++)
        CHECK_ERR(coro_spawn(&t[i], sleep_count, arg, NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* all asleep */
    for (int i = 0; i < 300; i += 2)
        CHECK_ERR(coro_cancel(t[i]), 0);
    for (int i = 0; i < 300; i++)
        coro_await(t[i], NULL);
    return NULL;
}

TEST(a_cancel_storm_removes_half_the_timers_and_the_rest_fire)
{
    struct storm s = {0};

    CHECK_ERR(coro_run(cancel_storm, &s, NULL, &virt), 0);
    CHECK_INT(s.canceled, 150);
}

/* ---- watchdog and dump ---- */

static void *spin(void *arg)
{
    (void)arg;
    test_busy(0.3);
    return NULL;
}

static void *spin_named(void *arg)
{
    coro_task_options named = {"hog", 0, NULL, 0, NULL};
    coro_task *t;

    CHECK_ERR(coro_spawn(&t, spin, arg, &named), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    return NULL;
}

TEST(watchdog_reports_a_task_that_does_not_yield)
{
    coro_run_options o = {0, 0, CORO_MSEC(50), 0, 0, 0};

    /* valgrind runs one thread at a time and need not let the watchdog's
     * run while the spinning one holds the CPU; qemu is too slow to keep
     * the timing. */
    if (test_slow_env())
        return;
    CHECK_ERR(test_run_capturing(spin_named, NULL, &o), 0);
    CHECK(strstr(test_captured, "coro: watchdog: task \"hog\" (id ") != NULL);
    CHECK(strstr(test_captured, "without yielding") != NULL);
}

/* ---- a watchdog whose stderr is blocked ---- */

struct blocked_err {
    int pipe[2];
    int went_on; /* the loop got past the hog's end (atomic) */
    int drained; /* the drainer has begun reading (atomic) */
    int done;    /* coro_run has returned: the drainer stops (atomic) */
    int blocked; /* stderr was still blocked when the loop went on */
};

static void *hog_then_go_on(void *arg)
{
    struct blocked_err *b = arg;
    coro_task_options named = {"hog", 0, NULL, 0, NULL};
    coro_task *t;

    CHECK_ERR(coro_spawn(&t, spin, NULL, &named), 0);
    CHECK_ERR(coro_await(t, NULL), 0); /* its end frees its name */
    b->blocked = !__atomic_load_n(&b->drained, __ATOMIC_ACQUIRE);
    __atomic_store_n(&b->went_on, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Drains the pipe once the loop went on, or after 5 s. */
static void *drain_later(void *arg)
{
    struct blocked_err *b = arg;
    char buf[4096];

    for (int i = 0; i < 500 && !__atomic_load_n(&b->went_on, __ATOMIC_ACQUIRE); i++)
        usleep(10000);
    __atomic_store_n(&b->drained, 1, __ATOMIC_RELEASE);
    CHECK_INT(fcntl(b->pipe[0], F_SETFL, O_NONBLOCK), 0);
    while (!__atomic_load_n(&b->done, __ATOMIC_ACQUIRE))
        if (read(b->pipe[0], buf, sizeof buf) <= 0)
            usleep(1000);
    return NULL;
}

/* The watchdog's report goes to a stderr that blocks (a full pipe): only
 * the watchdog waits; the loop frees the reported task and goes on. */
TEST(a_watchdog_blocked_on_stderr_does_not_hold_up_the_loop)
{
    coro_run_options o = {0, 0, CORO_MSEC(20), 0, 0, 0};
    struct blocked_err b = {{-1, -1}, 0, 0, 0, 0};
    int saved, flags;
    char fill[4096];
    pthread_t drainer;

    if (test_slow_env())
        return; /* the watchdog's timing, as above */
    saved = dup(2);
    CHECK(saved >= 0);
    CHECK_INT(pipe(b.pipe), 0);
    flags = fcntl(b.pipe[1], F_GETFL);
    CHECK_INT(fcntl(b.pipe[1], F_SETFL, flags | O_NONBLOCK), 0);
    memset(fill, 'x', sizeof fill);
    while (write(b.pipe[1], fill, sizeof fill) > 0)
        ;
    CHECK_INT(fcntl(b.pipe[1], F_SETFL, flags), 0); /* full, and writes block */
    fflush(stderr);
    CHECK(dup2(b.pipe[1], 2) == 2);
    CHECK_INT(pthread_create(&drainer, NULL, drain_later, &b), 0);
    CHECK_ERR(coro_run(hog_then_go_on, &b, NULL, &o), 0);
    dup2(saved, 2);
    close(saved);
    __atomic_store_n(&b.done, 1, __ATOMIC_RELEASE);
    CHECK_INT(pthread_join(drainer, NULL), 0);
    close(b.pipe[0]);
    close(b.pipe[1]);
    CHECK(b.blocked);
}

static void *dump_main(void *arg)
{
    coro_task_options named = {"napper", 0, NULL, 0, NULL};
    FILE *f = tmpfile();
    char buf[2048];
    size_t n;

    (void)arg;
    CHECK_ERR(coro_spawn(NULL, sleep_log, P(2), &named), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_INT(coro_dump(f), 2);
    rewind(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    CHECK(strstr(buf, "\"napper\": blocked on sleep") != NULL);
    CHECK(strstr(buf, "spawned at tests/test_sched.c:") != NULL);
    CHECK(strstr(buf, "\"main\": running") != NULL);
    return NULL;
}

TEST(dump_lists_every_task_with_its_state_and_spawn_site)
{
    CHECK_ERR(coro_dump(stderr), CORO_ENOLOOP);
    CHECK_ERR(coro_run(dump_main, NULL, NULL, &virt), 0);
}

/* ---- misuse ---- */

static void *blocking_in_generator(void *arg)
{
    (void)arg;
    return P(coro_sleep(CORO_MSEC(1)));
}

static void *nested_coroutine_blocks(void *arg)
{
    coro *co;
    void *out = NULL;

    (void)arg;
    CHECK_ERR(coro_create(&co, blocking_in_generator, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_ERR((int)N(out), CORO_ENOLOOP); /* not a task: cannot park one */
    CHECK_ERR(coro_destroy(co), 0);
    return NULL;
}

TEST(blocking_calls_outside_a_task_are_refused)
{
    coro_task *t = (coro_task *)1;

    CHECK_ERR(coro_sleep(1), CORO_ENOLOOP);
    CHECK_ERR(coro_await(NULL, NULL), CORO_ENOLOOP);
    CHECK_ERR(coro_spawn(&t, twice, NULL, NULL), CORO_ENOLOOP);
    CHECK_PTR(t, NULL);
    CHECK_ERR(coro_cancel(NULL), CORO_ENOLOOP);
    CHECK_PTR(coro_task_self(), NULL);
    CHECK_PTR(coro_task_name(NULL), NULL);
    CHECK_INT(coro_task_id(NULL), 0);
    CHECK_ERR(coro_run(nested_coroutine_blocks, NULL, NULL, NULL), 0);
}

static void *spawn_null(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_spawn(NULL, NULL, NULL, NULL), CORO_EINVAL);
    CHECK_STR(coro_task_name(coro_task_self()), "main");
    return NULL;
}

TEST(spawn_of_nothing_is_refused)
{
    CHECK_ERR(coro_run(spawn_null, NULL, NULL, NULL), 0);
}

/* ---- every allocation failing in turn ---- */

static coro_chan *fault_chan;

static void *fault_producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        if (coro_chan_send(fault_chan, &i) != 0)
            break;
    coro_chan_close(fault_chan);
    return NULL;
}

static void *fault_sleeper(void *arg)
{
    (void)arg;
    return P(coro_sleep(CORO_MSEC(3)));
}

static void *fault_scenario(void *arg)
{
    coro_task *t = NULL;
    coro_group *g;
    coro_chan *other;
    int x, y, rc;

    (void)arg;
    if ((rc = coro_chan_open(&fault_chan, sizeof(int), 1)) != 0)
        return P(rc);
    if (coro_chan_open(&other, sizeof(int), 0) == 0) {
        coro_case c[6] = {CORO_CASE_RECV(other, &y), CORO_CASE_RECV(other, &y),
                          CORO_CASE_RECV(other, &y), CORO_CASE_RECV(other, &y),
                          CORO_CASE_RECV(other, &y), CORO_CASE_RECV(fault_chan, &x)};
        if (coro_spawn(NULL, fault_producer, NULL, NULL) == 0)
            while (coro_select_until(c, 6, coro_after(CORO_MSEC(50))) == 5 && c[5].result == 0)
                ;
        coro_chan_free(other);
    }
    if (coro_group_open(&g) == 0) {
        coro_task_options in_g = {"in group", 0, g, 0, NULL};
        coro_spawn(NULL, fault_sleeper, NULL, &in_g);
        coro_spawn(&t, fault_sleeper, NULL, &in_g);
        coro_group_deadline(g, coro_after(CORO_MSEC(10)));
        coro_group_wait(g);
    }
    if (coro_spawn(&t, fault_sleeper, NULL, NULL) == 0)
        coro_await(t, NULL);
    return NULL;
}

static void free_fault_chan(void)
{
    if (fault_chan != NULL)
        CHECK_ERR(coro_chan_free(fault_chan), 0);
    fault_chan = NULL;
}

TEST(every_allocation_failing_in_turn_gives_an_error_and_leaks_nothing)
{
    int clean = 0;

    /* The scenario makes fewer than 150 allocations: the last runs are clean. */
    for (long k = 1; k <= 150; k++) {
        int rc;

        fault_chan = NULL;
        coro__fail_after(k);
        rc = test_run_capturing(fault_scenario, NULL, &virt);
        coro__fail_after(0);
        free_fault_chan();
        if (!(rc == 0 || rc == CORO_ENOMEM || rc == CORO_EERROR || rc == CORO_EDEADLK ||
              rc == CORO_EMAPS))
            fprintf(stderr, "k=%ld rc=%s\n%s", k, coro_errname(rc), test_captured);
        CHECK(rc == 0 || rc == CORO_ENOMEM || rc == CORO_EERROR || rc == CORO_EDEADLK ||
              rc == CORO_EMAPS);
        clean = rc == 0 && strstr(test_captured, "deadlock") == NULL;
    }
    CHECK(clean);
}

static void *group_wait_until_main(void *arg)
{
    coro_group *g;
    coro_task_options in_g = {"slow", 0, NULL, 0, NULL};
    coro_time t0 = coro_now();

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    in_g.group = g;
    CHECK_ERR(coro_spawn(NULL, fault_sleeper, NULL, &in_g), 0); /* 3 ms */
    CHECK_ERR(coro_group_wait_until(g, coro_after(CORO_MSEC(1))), CORO_ETIMEDOUT);
    CHECK_INT(coro_now() - t0, CORO_MSEC(1));
    CHECK_ERR(coro_group_open(&g), 0);
    in_g.group = g;
    CHECK_ERR(coro_spawn(NULL, fault_sleeper, NULL, &in_g), 0);
    CHECK_ERR(coro_group_wait_until(g, coro_after(CORO_MSEC(10))), 0);
    CHECK_ERR(coro_group_wait_until(NULL, 0), CORO_EINVAL);
    return NULL;
}

TEST(group_wait_until_cancels_the_group_at_its_deadline)
{
    CHECK_ERR(coro_run(group_wait_until_main, NULL, NULL, &virt), 0);
}

/* ---- many parked tasks ---- */

struct crowd {
    long n;
    coro_time last;
    long woken, out_of_order;
};

static void *nap(void *arg)
{
    struct crowd *c = arg;
    coro_time when = CORO_MSEC(1 + (coro_task_id(coro_task_self()) * 7919) % 1000);

    CHECK_ERR(coro_sleep_until(when), 0);
    CHECK_INT(coro_now(), when);
    c->out_of_order += when < c->last;
    c->last = when;
    c->woken++;
    return NULL;
}

static void *spawn_crowd(void *arg)
{
    struct crowd *c = arg;
    coro_task_options copy = {"napper", 0, NULL, CORO_COPY_STACK, NULL};

    for (long i = 0; i < c->n; i++)
        CHECK_ERR(coro_spawn(NULL, nap, c, &copy), 0);
    return NULL;
}

TEST(a_hundred_thousand_copy_stack_tasks_sleep_and_wake_in_deadline_order)
{
    struct crowd c = {test_slow_env() ? 5000 : 100000, 0, 0, 0};

#if defined(CORO__ASAN) || defined(CORO__TSAN)
    /* ASan's fake stacks and TSan's fibers (a trace and a shadow call stack
     * each), one per coroutine, run out of mappings */
    c.n = 10000;
#endif
    c.n = ALIVE(c.n);

    CHECK_ERR(coro_run(spawn_crowd, &c, NULL, &virt), 0);
    CHECK_INT(c.woken, c.n);
    CHECK_INT(c.out_of_order, 0);
}

/* ---- workers ---- */

static void *identity(void *arg)
{
    coro *me = coro_running(NULL);

    CHECK_ERR(coro_defer(log_cleanup, arg), 0);
    CHECK_INT(coro_id(me), coro_task_id(coro_task_self()));
    CHECK_STR(coro_name(me), coro_task_name(coro_task_self()));
    if (strcmp(arg, "fail ") == 0)
        coro_error("task failed");
    return NULL;
}

static void *reuse_workers(void *arg)
{
    static const char *names[] = {"one", "two", "three", "four"};
    static char *logs[] = {"1 ", "fail ", "3 ", "4 "};
    coro_task_options o = {NULL, 0, NULL, 0, NULL};
    coro_task *t;

    (void)arg;
    for (int i = 0; i < 4; i++) {
        o.name = names[i];
        o.stack_size = i == 3 ? 64 * 1024 : 0; /* another size: a worker of its own */
        CHECK_ERR(coro_spawn(&t, identity, logs[i], &o), 0);
        CHECK_ERR(coro_await(t, NULL), i == 1 ? CORO_EERROR : 0);
    }
    CHECK_STR(coro_errmsg(coro_running(NULL)), "task failed");
    return NULL;
}

TEST(tasks_reuse_workers_each_with_its_own_name_id_cleanups_and_errors)
{
    log_buf[0] = '\0';
    CHECK_ERR(coro_run(reuse_workers, NULL, NULL, NULL), 0);
    CHECK_STR(log_buf, "1 fail 3 4 "); /* each task's cleanup ran once, at its end */
}

static void raising_cleanup(void *arg)
{
    log_add(arg);
    coro_error("cleanup failed");
}

static void *defer_raises(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(raising_cleanup, "raise "), 0);
    CHECK_ERR(coro_defer(log_cleanup, "first "), 0); /* runs before the raising one */
    return P(1);
}

static void *fail_inside(void *arg)
{
    (void)arg;
    coro_error("caught");
    return NULL;
}

static void *catches_its_error(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_pcall(fail_inside, NULL, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "caught");
    CHECK_ERR(coro_defer(log_cleanup, "caught "), 0);
    return P(2);
}

static void *plain(void *arg)
{
    CHECK(coro_errmsg(coro_running(NULL)) == NULL); /* nothing left by the tasks before */
    CHECK_ERR(coro_defer(log_cleanup, "plain "), 0);
    return arg;
}

/* One worker runs the three in turn (each awaited before the next is
 * spawned): its protected scope must come out of each as good as new. */
static void *scope_reuse(void *arg)
{
    coro_task *t;
    void *r = NULL;

    (void)arg;
    AWAIT_FAILURE(defer_raises, "cleanup failed");
    CHECK_ERR(coro_spawn(&t, catches_its_error, NULL, NULL), 0);
    CHECK_ERR(coro_await(t, &r), 0);
    CHECK(r == P(2));
    for (int i = 0; i < 3; i++) {
        CHECK_ERR(coro_spawn(&t, plain, P(10 + i), NULL), 0);
        CHECK_ERR(coro_await(t, &r), 0);
        CHECK(r == P(10 + i));
    }
    return NULL;
}

TEST(a_worker_runs_tasks_after_a_raising_cleanup_and_a_caught_error_as_if_new)
{
    log_buf[0] = '\0';
    CHECK_ERR(coro_run(scope_reuse, NULL, NULL, NULL), 0);
    CHECK_STR(log_buf, "first raise caught plain plain plain ");
}

static volatile unsigned long recurse_stop = ~0UL; /* never reached */

__attribute__((noinline)) static unsigned long recurse(unsigned long depth)
{
    volatile char frame[256];

    frame[0] = (char)depth;
    __asm__ volatile("" : : "r"(frame) : "memory");
    if (depth == recurse_stop)
        return 0;
    return recurse(depth + 1) + (unsigned long)frame[0];
}

static void *overflow_task(void *arg)
{
    (void)arg;
    return P(recurse(0));
}

static void *spawn_overflow(void *arg)
{
    coro_task_options named = {"runaway", 0, NULL, 0, NULL};
    coro_task *t;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, twice, P(1), NULL), 0); /* its worker is reused below */
    CHECK_ERR(coro_await(t, NULL), 0);
    CHECK_ERR(coro_spawn(&t, overflow_task, NULL, &named), 0);
    coro_await(t, NULL);
    return NULL;
}

TEST(a_stack_overflow_in_a_task_is_reported_by_the_task_name)
{
    int fds[2], status;
    char buf[1024] = "";
    pid_t pid;
    ssize_t n;

    SKIP_IN_COPY_MODE();
    CHECK_INT(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        coro_run(spawn_overflow, NULL, NULL, &virt);
        _exit(0);
    }
    close(fds[1]);
    n = read(fds[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status));
    CHECK(strstr(buf, "stack overflow in coroutine \"runaway\"") != NULL);
}

/* ---- found in review ---- */

static coro_chan *chain_gate;

static void *chain_link(void *arg)
{
    long depth = N(arg);
    coro_task_options copy = {NULL, 0, NULL, CORO_COPY_STACK, NULL};
    long v;

    if (depth > 0)
        CHECK_ERR(coro_spawn(NULL, chain_link, P(depth - 1), &copy), 0);
    return P(coro_chan_recv(chain_gate, &v)); /* canceled from the top */
}

static void *deep_chain(void *arg)
{
    coro_task_options copy = {NULL, 0, NULL, CORO_COPY_STACK, NULL};
    coro_task *top;
    void *out;

    CHECK_ERR(coro_chan_open(&chain_gate, sizeof(long), 0), 0);
    CHECK_ERR(coro_spawn(&top, chain_link, arg, &copy), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0); /* the whole chain is parked */
    CHECK_ERR(coro_cancel(top), 0);         /* no recursion per level */
    CHECK_ERR(coro_await(top, &out), CORO_ETASKCANCELED);
    CHECK_ERR((int)N(out), CORO_ECANCELED);
    CHECK_ERR(coro_chan_free(chain_gate), 0);
    return NULL;
}

TEST(canceling_and_completing_a_chain_ten_thousand_deep_uses_no_stack_per_level)
{
    CHECK_ERR(coro_run(deep_chain, P(ALIVE(test_slow_env() ? 1000 : 10000)), NULL, &virt), 0);
}

static coro *victim_co;

static void *victim(void *arg)
{
    (void)arg;
    victim_co = coro_running(NULL);
    CHECK_ERR(coro_sleep(CORO_MSEC(10)), 0); /* the full 10 ms: nobody cuts it short */
    return P(1);
}

static void *call_victim(void *arg)
{
    (void)arg;
    (void)coro_call(victim_co, NULL, NULL);
    return NULL;
}

static void *attacker(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_close(victim_co), CORO_ETASKCO);
    CHECK_ERR(coro_resume(victim_co, NULL, NULL), CORO_ETASKCO);
    CHECK_ERR(coro_pcall(call_victim, NULL, NULL), CORO_EERROR); /* raised, as Lua's wrap */
    CHECK_STR(coro_errmsg(coro_running(NULL)), coro_strerror(CORO_ETASKCO));
    CHECK_ERR(coro_destroy(victim_co), CORO_ETASKCO);
    return NULL;
}

static void *workers_guarded(void *arg)
{
    coro_task *v;
    coro_time t0 = coro_now();

    (void)arg;
    CHECK_ERR(coro_spawn(&v, victim, NULL, NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_ERR(coro_spawn(NULL, attacker, NULL, NULL), 0);
    CHECK_ERR(coro_await(v, NULL), 0);
    CHECK_INT(coro_now() - t0, CORO_MSEC(10));
    return NULL;
}

TEST(a_tasks_coroutine_cannot_be_resumed_closed_or_destroyed_by_user_code)
{
    CHECK_ERR(coro_run(workers_guarded, NULL, NULL, &virt), 0);
}

static coro_event never = CORO_EVENT_INIT;
static coro_group *wind_group;
static int wind_rc;

static void *wait_never(void *arg)
{
    (void)arg;
    return P(coro_event_wait(&never));
}

static void wind_down(void *arg)
{
    coro_task *t = (coro_task *)1;

    (void)arg;
    wind_rc = coro_group_wait_until(wind_group, coro_after(CORO_SEC(1)));
    CHECK(coro_task_self() != NULL); /* cleanups run as their task */
    CHECK_ERR(coro_spawn(&t, wait_never, NULL, NULL), CORO_ECANCELED);
    CHECK_PTR(t, NULL);
}

static void *deadlock_with_cleanup(void *arg)
{
    coro_task_options in_g = {NULL, 0, NULL, 0, NULL};

    (void)arg;
    CHECK_ERR(coro_group_open(&wind_group), 0);
    in_g.group = wind_group;
    CHECK_ERR(coro_spawn(NULL, wait_never, NULL, &in_g), 0);
    CHECK_ERR(coro_defer(wind_down, NULL), 0);
    coro_event_wait(&never);
    return NULL;
}

TEST(cleanups_run_by_a_deadlock_shutdown_cannot_arm_timers_or_spawn)
{
    wind_rc = 0;
    CHECK_ERR(test_run_capturing(deadlock_with_cleanup, NULL, NULL), CORO_EDEADLK);
    CHECK_ERR(wind_rc, CORO_ECANCELED); /* its deadline refused: no timer left behind */
}

/* A cleanup run by a deadlock's shutdown cannot wait: a call that needs
 * another task to end its wait says so (coro_yield's CORO_ECBOUNDARY);
 * work that needs none (a file write, an offloaded function, a lookup) is
 * done right there. */
static int inline_fd = -1;
static coro_chan *inline_ch;
static int inline_rc[5];

static void *plus_one(void *arg)
{
    int *n = arg;

    ++*n;
    return n;
}

static void work_inline(void *arg)
{
    char c = 0;
    int n = 41;
    void *r = NULL;
    struct addrinfo *res = NULL;

    (void)arg;
    inline_rc[0] = (int)coro_file_write(inline_fd, "z", 1, -1);
    inline_rc[1] = coro_offload(plus_one, &n, &r) == 0 && r == &n ? n : -1;
    inline_rc[2] = coro_chan_recv(inline_ch, &c);
    inline_rc[3] = coro_getaddrinfo("127.0.0.1", "80", NULL, &res, CORO_NEVER);
    if (res != NULL)
        freeaddrinfo(res);
    inline_rc[4] = coro_fd_wait(inline_fd, CORO_WRITE);
    coro_chan_free(inline_ch);
}

static void *deadlock_with_work(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_chan_open(&inline_ch, 1, 0), 0);
    CHECK_ERR(coro_defer(work_inline, NULL), 0);
    coro_event_wait(&never);
    return NULL;
}

TEST(cleanups_run_by_a_deadlock_shutdown_do_work_inline_and_cannot_wait)
{
    int p[2];
    char c = 0;

    CHECK_ERR(pipe(p), 0);
    inline_fd = p[1];
    memset(inline_rc, 0xff, sizeof inline_rc);
    CHECK_ERR(test_run_capturing(deadlock_with_work, NULL, NULL), CORO_EDEADLK);
    CHECK_INT(inline_rc[0], 1);
    CHECK_INT(read(p[0], &c, 1), 1);
    CHECK_INT(c, 'z');
    CHECK_INT(inline_rc[1], 42);
    CHECK_ERR(inline_rc[2], CORO_ECBOUNDARY);
    CHECK_ERR(inline_rc[3], 0);
    CHECK_ERR(inline_rc[4], CORO_ECBOUNDARY);
    close(p[0]);
    close(p[1]);
}

/* ---- a burst of spawns: a queued task holds no stack ---- */

static int burst_done;

static void *burst_task(void *arg)
{
    (void)arg;
    burst_done++;
    return NULL;
}

static void *burst_main(void *arg)
{
    long maps0 = coro__live_maps();
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    for (int i = 0; i < 10000; i++)
        CHECK_ERR(coro_spawn(NULL, burst_task, NULL, &(coro_task_options){NULL, 0, g, 0, NULL}), 0);
    /* the first 64 have a worker (and a stack) each; the rest get one of
     * theirs when they start */
    CHECK(coro__live_maps() - maps0 <= 2 * 70);
    CHECK_ERR(coro_group_wait(g), 0);
    CHECK_INT(burst_done, 10000);
    return NULL;
}

TEST(a_burst_of_spawns_gives_a_stack_only_to_the_tasks_that_run)
{
    CHECK_ERR(coro_run(burst_main, NULL, NULL, NULL), 0);
}

static coro_event burst_gate = CORO_EVENT_INIT;

static void *late_start_main(void *arg)
{
    coro_task *t;

    (void)arg;
    for (int i = 0; i < 64; i++) /* the burst threshold (sched.h) */
        CHECK_ERR(coro_spawn(NULL, test_wait_event, &burst_gate, NULL), 0);
    CHECK_ERR(coro_spawn(&t, burst_task, NULL, NULL), 0); /* no worker yet */
    coro__fail_after(1); /* its worker, when it starts: the others hold theirs */
    CHECK_ERR(coro_await(t, NULL), CORO_EERROR);
    coro__fail_after(0);
    CHECK(strstr(coro_errmsg(coro_running(NULL)), "could not start") != NULL);
    CHECK_ERR(coro_event_set(&burst_gate), 0);
    return NULL;
}

TEST(a_task_of_a_burst_that_cannot_get_a_stack_when_it_starts_ends_with_an_error)
{
    CHECK_ERR(coro_run(late_start_main, NULL, NULL, NULL), 0);
}

static void *canceled_burst_main(void *arg)
{
    coro_group *g;
    coro_task *t;

    (void)arg;
    for (int i = 0; i < 64; i++)
        CHECK_ERR(coro_spawn(NULL, test_wait_event, &burst_gate, NULL), 0);
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(coro_spawn(&t, burst_task, NULL, &(coro_task_options){NULL, 0, g, 0, NULL}), 0);
    CHECK_ERR(coro_group_cancel(g), 0); /* before it starts */
    coro__fail_after(1);
    CHECK_ERR(coro_await(t, NULL), CORO_ETASKCANCELED);
    coro__fail_after(0);
    CHECK_ERR(coro_group_wait(g), CORO_ECANCELED);
    CHECK_ERR(coro_event_set(&burst_gate), 0);
    return NULL;
}

TEST(a_canceled_task_of_a_burst_that_cannot_start_ends_canceled)
{
    CHECK_ERR(coro_run(canceled_burst_main, NULL, NULL, NULL), 0);
}
