/*
 * test_loops.c - runs of several loops, one per thread: the main task on
 * loop 0, the handles, tasks spawned onto another loop (run there, awaited,
 * canceled, failing into their awaiter or group), groups whose members are
 * on several loops (first error, deadline, no orphans), least-loaded
 * placement, remotes onto any loop, a deadlock spanning loops, and bad
 * options.
 *
 * Everything the tasks share is static (a STACK=copy build makes every task
 * copy-stack: no task may touch another's locals).
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static coro_run_options two = {0, 0, 0, 0, 2, 0};
static coro_run_options three = {0, 0, 0, 0, 3, 0};

/* ======================================================================
 * the run and its handles
 * ====================================================================== */

static void *handles_main(void *arg)
{
    (void)arg;
    CHECK_INT(coro_loop_count(), 3);
    CHECK_INT(coro_loop_index(coro_loop_self()), 0);
    CHECK_PTR(coro_loop_at(0), coro_loop_self());
    CHECK(coro_loop_at(1) != NULL && coro_loop_at(2) != NULL);
    CHECK(coro_loop_at(1) != coro_loop_at(2));
    CHECK_PTR(coro_loop_at(3), NULL);
    CHECK_PTR(coro_loop_at(-1), NULL);
    CHECK_INT(coro_loop_index(coro_loop_at(2)), 2);
    return P(42);
}

static void *single_main(void *arg)
{
    (void)arg;
    CHECK_INT(coro_loop_count(), 1);
    CHECK_PTR(coro_loop_at(0), coro_loop_self());
    CHECK_PTR(coro_loop_at(1), NULL);
    return NULL;
}

TEST(a_run_of_several_loops_runs_main_on_the_first_and_returns_its_result)
{
    void *out = NULL;

    CHECK_ERR(coro_run(handles_main, NULL, &out, &three), 0);
    CHECK_INT(N(out), 42);
    CHECK_ERR(coro_run(single_main, NULL, NULL, NULL), 0);
    CHECK_INT(coro_loop_count(), 0);
    CHECK_PTR(coro_loop_self(), NULL);
    CHECK_INT(coro_loop_index(NULL), -1);
}

/* ======================================================================
 * a task on another loop
 * ====================================================================== */

static pthread_t main_thread;

static void *where(void *arg)
{
    CHECK(!pthread_equal(pthread_self(), main_thread));
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0); /* it blocks there like any task */
    return P(coro_loop_index(coro_loop_self()) * 100 + N(arg));
}

static void *spawn_elsewhere_main(void *arg)
{
    coro_task_options o1 = test_on_loop(1), o2 = test_on_loop(2);
    coro_task *t[3];
    void *out;

    (void)arg;
    main_thread = pthread_self();
    CHECK_ERR(coro_spawn(&t[0], where, P(7), &o1), 0);
    CHECK_ERR(coro_spawn(&t[1], where, P(8), &o2), 0);
    CHECK_ERR(coro_spawn(&t[2], where, P(9), &o1), 0);
    CHECK_ERR(coro_await(t[0], &out), 0);
    CHECK_INT(N(out), 107);
    CHECK_ERR(coro_await(t[1], &out), 0);
    CHECK_INT(N(out), 208);
    CHECK_ERR(coro_await(t[2], &out), 0);
    CHECK_INT(N(out), 109);
    return NULL;
}

TEST(a_task_spawned_on_another_loop_runs_on_its_thread_and_is_awaited)
{
    CHECK_ERR(coro_run(spawn_elsewhere_main, NULL, NULL, &three), 0);
}

static void *fails_there(void *arg)
{
    (void)arg;
    coro_error("failed on loop %d", coro_loop_index(coro_loop_self()));
    return NULL;
}

static void *sleeps_long(void *arg)
{
    int rc = coro_sleep(CORO_SEC(100));

    CHECK_ERR(rc, CORO_ECANCELED);
    return arg;
}

static void *error_cancel_main(void *arg)
{
    coro_task_options o = test_on_loop(1);
    coro_task *t;
    void *out = NULL;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, fails_there, NULL, &o), 0);
    CHECK_ERR(coro_await(t, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "failed on loop 1");
    CHECK_ERR(coro_spawn(&t, sleeps_long, P(5), &o), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_await(t, &out), CORO_ETASKCANCELED);
    CHECK_INT(N(out), 5);
    CHECK_ERR(coro_spawn(&t, sleeps_long, P(6), &o), 0);
    CHECK_ERR(coro_cancel(t), 0); /* before it even started there */
    CHECK_ERR(coro_await(t, &out), CORO_ETASKCANCELED);
    return NULL;
}

TEST(errors_and_cancellation_cross_loops)
{
    CHECK_ERR(coro_run(error_cancel_main, NULL, NULL, &two), 0);
}

/* ======================================================================
 * groups across loops
 * ====================================================================== */

static int finished_there; /* written by a task of loop 1, read after the run */

static void *late_worker(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_sleep(CORO_MSEC(20)), 0);
    finished_there = 1;
    return NULL;
}

static void *groups_main(void *arg)
{
    coro_group *g;
    coro_task_options o1 = test_on_loop(1), o2 = test_on_loop(2), mine = {NULL, 0, NULL, 0, NULL};

    (void)arg;
    /* the first error cancels the siblings, on every loop */
    CHECK_ERR(coro_group_open(&g), 0);
    o1.group = o2.group = mine.group = g;
    CHECK_ERR(coro_spawn(NULL, sleeps_long, NULL, &o1), 0);
    CHECK_ERR(coro_spawn(NULL, sleeps_long, NULL, &o2), 0);
    CHECK_ERR(coro_spawn(NULL, sleeps_long, NULL, &mine), 0);
    CHECK_ERR(coro_spawn(NULL, fails_there, NULL, &o2), 0);
    CHECK_ERR(coro_group_wait(g), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "failed on loop 2");
    /* a deadline cancels members on every loop */
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(coro_group_deadline(g, coro_after(CORO_MSEC(10))), 0);
    o1.group = o2.group = g;
    CHECK_ERR(coro_spawn(NULL, sleeps_long, NULL, &o1), 0);
    CHECK_ERR(coro_spawn(NULL, sleeps_long, NULL, &o2), 0);
    CHECK_ERR(coro_group_wait(g), CORO_ETIMEDOUT);
    /* no orphans: the run waits for a detached task of another loop */
    o1.group = NULL;
    CHECK_ERR(coro_spawn(NULL, late_worker, NULL, &o1), 0);
    return NULL;
}

TEST(groups_span_loops_first_error_deadline_and_no_orphans)
{
    CHECK_ERR(coro_run(groups_main, NULL, NULL, &three), 0);
    CHECK_INT(finished_there, 1);
}

/* ======================================================================
 * nesting, least loaded, many
 * ====================================================================== */

static void *bounce(void *arg)
{
    long depth = N(arg);
    int here = coro_loop_index(coro_loop_self());
    coro_task_options o = test_on_loop((here + 1) % coro_loop_count());
    coro_task *t;
    void *out;

    if (depth == 0)
        return P(0);
    CHECK_ERR(coro_spawn(&t, bounce, P(depth - 1), &o), 0);
    CHECK_ERR(coro_await(t, &out), 0);
    return P(N(out) + 1);
}

static void *maybe_canceled(void *arg)
{
    int rc = coro_sleep(CORO_USEC(50));

    CHECK(rc == 0 || rc == CORO_ECANCELED);
    return arg;
}

static int ran_on[3];

static void *count_where(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&ran_on[coro_loop_index(coro_loop_self())], 1, __ATOMIC_RELAXED);
    return NULL;
}

static void *many_main(void *arg)
{
    coro_task_options any = {NULL, 0, NULL, CORO_ANY_LOOP, NULL};
    long n = test_slow_env() ? 300 : 5000;
    coro_task *t;
    void *out;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, bounce, P(30), NULL), 0); /* 0 -> 1 -> 2 -> 0 ... */
    CHECK_ERR(coro_await(t, &out), 0);
    CHECK_INT(N(out), 30);
    for (long i = 0; i < n; i++)
        CHECK_ERR(coro_spawn(NULL, count_where, NULL, &any), 0);
    for (long i = 0; i < n; i++) { /* spawn and await, round trips across loops */
        coro_task_options o = test_on_loop(1 + (int)(i % 2));
        CHECK_ERR(coro_spawn(&t, maybe_canceled, P(1), &o), 0);
        if (i % 7 == 0)
            CHECK_ERR(coro_cancel(t), 0);
        int rc = coro_await(t, &out);
        CHECK(rc == 0 || (i % 7 == 0 && rc == CORO_ETASKCANCELED));
        CHECK_INT(N(out), 1);
    }
    return NULL;
}

TEST(tasks_bounce_between_loops_and_least_loaded_placement_uses_every_loop)
{
    CHECK_ERR(coro_run(many_main, NULL, NULL, &three), 0);
    CHECK(ran_on[1] + ran_on[2] > 0);
    CHECK_INT(ran_on[0] + ran_on[1] + ran_on[2], test_slow_env() ? 300 : 5000);
}

/* ======================================================================
 * remotes onto another loop, deadlocks
 * ====================================================================== */

static coro_remote *remote;
static coro_event posted_ev = CORO_EVENT_INIT;
static int posted_on;

static void *posted(void *arg)
{
    posted_on = coro_loop_index(coro_loop_self());
    if (arg != NULL)
        coro_error("posted to loop %d and failed", posted_on);
    CHECK_ERR(coro_event_set(&posted_ev), 0);
    return NULL;
}

static void *poster(void *arg)
{
    CHECK_ERR(coro_post(remote, posted, arg), 0);
    return NULL;
}

static void *opener(void *arg)
{
    pthread_t th;

    CHECK_ERR(coro_remote_open(&remote), 0);
    coro_event_init(&posted_ev);
    CHECK_INT(pthread_create(&th, NULL, poster, arg), 0);
    CHECK_INT(pthread_join(th, NULL), 0);
    coro_remote_close(remote);
    if (arg == NULL)
        CHECK_ERR(coro_event_wait(&posted_ev), 0); /* the posted task, on this loop */
    return NULL;
}

static void *remote_main(void *arg)
{
    coro_task_options o = test_on_loop(1);
    coro_task *t;

    CHECK_ERR(coro_spawn(&t, opener, arg, &o), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    if (arg != NULL)
        CHECK_ERR(coro_sleep(CORO_SEC(10)), CORO_ECANCELED); /* the run fails */
    return NULL;
}

TEST(remotes_post_to_any_loop_and_a_failure_there_fails_the_run)
{
    CHECK_ERR(coro_run(remote_main, NULL, NULL, &two), 0);
    CHECK_INT(posted_on, 1);
    CHECK_ERR(coro_run(remote_main, P(1), NULL, &two), CORO_EERROR);
    CHECK_STR(coro_run_error(CORO_EERROR), "posted to loop 1 and failed");
}

static coro_event never = CORO_EVENT_INIT;

static void *waits_forever(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_event_wait(&never), CORO_ECANCELED); /* closed by the shutdown */
    return NULL;
}

static void *deadlock_main(void *arg)
{
    coro_task_options o = test_on_loop(1);
    coro_task *t;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, waits_forever, NULL, &o), 0);
    CHECK_ERR(coro_await(t, NULL), CORO_ECANCELED);
    return NULL;
}

TEST(a_deadlock_spanning_loops_is_reported_and_ends_the_run)
{
    CHECK_ERR(coro_run(deadlock_main, NULL, NULL, &two), CORO_EDEADLK);
}

/* ======================================================================
 * options
 * ====================================================================== */

static void *nothing(void *arg)
{
    return arg;
}

static coro_loop *stale;

static void *keep_loop(void *arg)
{
    stale = coro_loop_self();
    return arg;
}

static void *stale_main(void *arg)
{
    coro_task_options o = {NULL, 0, NULL, 0, NULL};

    (void)arg;
    o.loop = stale;
    CHECK_ERR(coro_spawn(NULL, nothing, NULL, &o), CORO_EINVAL);
    return NULL;
}

TEST(bad_loop_options_are_refused)
{
    coro_run_options o = {0, 0, 0, 0, -2, 0};
    void *out = NULL;

    CHECK_ERR(coro_run(nothing, NULL, NULL, &o), CORO_EINVAL);
    o.loops = 1025;
    CHECK_ERR(coro_run(nothing, NULL, NULL, &o), CORO_EINVAL);
    o.loops = 2;
    o.flags = CORO_RUN_VIRTUAL_CLOCK;
    CHECK_ERR(coro_run(nothing, NULL, NULL, &o), CORO_EINVAL);
    o.flags = CORO_RUN_SEEDED;
    CHECK_ERR(coro_run(nothing, NULL, NULL, &o), CORO_EINVAL);
    o.flags = CORO_RUN_PIN;
    o.loops = CORO_LOOPS_PER_CPU;
    CHECK_ERR(coro_run(nothing, P(3), &out, &o), 0);
    CHECK_INT(N(out), 3);
    CHECK_ERR(coro_run(keep_loop, NULL, NULL, &two), 0);
    CHECK_ERR(coro_run(stale_main, NULL, NULL, NULL), 0); /* a loop of an ended run */
}

/* ======================================================================
 * serving on every loop
 * ====================================================================== */

static int served_on[3], served_lfd;

static void echo_where(int fd, void *ctx)
{
    char buf[8];
    long n = coro_read_until(fd, buf, sizeof buf, coro_after(CORO_SEC(10)));

    (void)ctx;
    __atomic_add_fetch(&served_on[coro_loop_index(coro_loop_self())], 1, __ATOMIC_RELAXED);
    if (n > 0)
        coro_write_all(fd, buf, (size_t)n);
}

static void *serve_every_loop(void *arg)
{
    coro_serve_options o = {0, CORO_SERVE_EVERY_LOOP};

    (void)arg;
    return P(coro_serve(served_lfd, echo_where, NULL, &o));
}

static void *one_client(void *arg)
{
    int fd = coro_tcp_connect("127.0.0.1", coro_socket_port(served_lfd));
    char buf[8];

    (void)arg;
    CHECK(fd >= 0);
    CHECK_ERR(coro_write_all(fd, "hi", 2), 0);
    CHECK_INT(coro_read_until(fd, buf, sizeof buf, coro_after(CORO_SEC(10))), 2);
    CHECK_ERR(coro_fd_close(fd), 0);
    return NULL;
}

static void *serve_main(void *arg)
{
    coro_serve_options every = {0, CORO_SERVE_EVERY_LOOP};
    int udp = coro_udp_bind("127.0.0.1", 0);
    coro_task *server, *c[40];
    void *out;

    (void)arg;
    CHECK(udp >= 0);
    CHECK_ERR(coro_serve(udp, echo_where, NULL, &every), CORO_EINVAL); /* not a TCP listener */
    CHECK_ERR(coro_fd_close(udp), 0);
    served_lfd = coro_tcp_listen("127.0.0.1", 0, 0);
    CHECK(served_lfd >= 0);
    CHECK_ERR(coro_spawn(&server, serve_every_loop, NULL, NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(20)), 0); /* every loop listens */
    for (int i = 0; i < 40; i++)
        CHECK_ERR(coro_spawn(&c[i], one_client, NULL, NULL), 0);
    for (int i = 0; i < 40; i++)
        CHECK_ERR(coro_await(c[i], NULL), 0);
    CHECK_ERR(coro_cancel(server), 0);
    CHECK_ERR(coro_await(server, &out), CORO_ETASKCANCELED);
    CHECK_ERR((int)N(out), CORO_ECANCELED);
    CHECK_ERR(coro_fd_close(served_lfd), 0);
    return NULL;
}

TEST(a_server_accepts_on_every_loop_and_stops_on_all_when_canceled)
{
    CHECK_ERR(coro_run(serve_main, NULL, NULL, &two), 0);
    CHECK_INT(served_on[0] + served_on[1], 40);
    CHECK(served_on[0] > 0 && served_on[1] > 0); /* the kernel spread them */
}

/* ======================================================================
 * ends that used to go wrong
 * ====================================================================== */

static coro_remote *held;
static pthread_t holder;

/* Holds a remote until posts through it are refused: the run ended. */
static void *hold_remote(void *arg)
{
    (void)arg;
    while (coro_post(held, nothing, NULL) != CORO_EENDED)
        usleep(1000);
    coro_remote_close(held);
    return NULL;
}

static void *short_nap(void *arg)
{
    CHECK_ERR(coro_sleep(CORO_MSEC(20)), 0);
    return arg;
}

static void *held_main(void *arg)
{
    coro_task_options o = test_on_loop(1);

    (void)arg;
    CHECK_ERR(coro_remote_open(&held), 0);
    CHECK_INT(pthread_create(&holder, NULL, hold_remote, NULL), 0);
    CHECK_ERR(coro_spawn(NULL, short_nap, NULL, &o), 0);
    return NULL; /* the run ends when the nap does, a remote open or not */
}

TEST(a_run_ends_though_a_remote_is_open_when_its_main_task_is_done)
{
    coro_run_options busy = {0, 0, 0, CORO_MSEC(50), 2, 0};

    CHECK_ERR(coro_run(held_main, NULL, NULL, &busy), 0);
    CHECK_INT(pthread_join(holder, NULL), 0);
    CHECK_ERR(coro_run(held_main, NULL, NULL, &two), 0);
    CHECK_INT(pthread_join(holder, NULL), 0);
}

static void *post_blocker(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_remote_open(&held), 0);
    CHECK_ERR(coro_post(held, waits_forever, NULL), 0);
    coro_remote_close(held);
    return NULL;
}

static void *done_first_main(void *arg)
{
    coro_task_options o = test_on_loop(1);
    coro_task *t;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, post_blocker, NULL, &o), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    return NULL; /* done; a task posted to loop 1 never ends */
}

TEST(a_deadlock_after_the_main_task_is_done_frees_everything)
{
    CHECK_ERR(coro_run(done_first_main, NULL, NULL, &two), CORO_EDEADLK);
}

/* ======================================================================
 * a storm: groups spanning loops, failing, canceled and timed out at random
 * ====================================================================== */

static unsigned long long storm_rng = 0x9E3779B97F4A7C15ULL;
static int storm_ended; /* members that ran to their end (atomic) */

static unsigned storm_next(void) /* loop 0's only */
{
    storm_rng ^= storm_rng >> 12;
    storm_rng ^= storm_rng << 25;
    storm_rng ^= storm_rng >> 27;
    return (unsigned)((storm_rng * 0x2545F4914F6CDD1DULL) >> 33);
}

/* A member: sleeps a little, maybe spawns a child on another loop, maybe
 * fails; every blocking call may be canceled. */
static void *storm_member(void *arg)
{
    long v = N(arg);
    coro_task_options o = test_on_loop((coro_loop_index(coro_loop_self()) + 1 + (int)(v % 2)) % 3);
    coro_task *child = NULL;
    int rc;

    if (v % 5 == 0 && coro_spawn(&child, storm_member, P(v / 5 * 5 + 1), &o) != 0)
        child = NULL;
    rc = coro_sleep(CORO_USEC(v % 7 * 100));
    if (child != NULL)
        (void)coro_await(child, NULL);
    if (rc == 0 && v % 11 == 3)
        coro_error("member %ld failed", v);
    __atomic_add_fetch(&storm_ended, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void *storm_main(void *arg)
{
    int rounds = test_slow_env() ? 20 : 200;

    (void)arg;
    for (int r = 0; r < rounds; r++) {
        coro_group *g;
        int members = 1 + (int)(storm_next() % 8), rc;

        CHECK_ERR(coro_group_open(&g), 0);
        if (storm_next() % 4 == 0)
            CHECK_ERR(coro_group_deadline(g, coro_after(CORO_USEC(storm_next() % 400))), 0);
        for (int i = 0; i < members; i++) {
            coro_task_options o = test_on_loop((int)(storm_next() % 3));
            o.group = g;
            CHECK_ERR(coro_spawn(NULL, storm_member, P(storm_next() % 1000), &o), 0);
        }
        if (storm_next() % 5 == 0)
            CHECK_ERR(coro_group_cancel(g), 0);
        rc = coro_group_wait(g);
        CHECK(rc == 0 || rc == CORO_EERROR || rc == CORO_ETIMEDOUT || rc == CORO_ECANCELED);
    }
    return NULL;
}

TEST(groups_spanning_loops_fail_cancel_and_time_out_at_random_and_nothing_leaks)
{
    CHECK_ERR(coro_run(storm_main, NULL, NULL, &three), 0);
    CHECK(storm_ended > 0);
}

/* ======================================================================
 * the tools: a dump of every loop, the watchdog on every loop
 * ====================================================================== */

static coro_event dump_gate = CORO_EVENT_INIT;

static void *dump_main(void *arg)
{
    FILE *f = tmpfile();
    char text[8192];
    size_t n;
    int count;

    (void)arg;
    CHECK(f != NULL);
    for (int i = 0; i < 3; i++) {
        coro_task_options o = {"parked", 0, NULL, 0, NULL};
        o.loop = coro_loop_at(i);
        CHECK_ERR(coro_spawn(NULL, test_wait_event, &dump_gate, &o), 0);
    }
    CHECK_ERR(coro_sleep(CORO_MSEC(test_slow_env() ? 200 : 10)), 0); /* all parked */
    count = coro_dump(f);
    rewind(f);
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    /* loop 0: main, its parked one and 2 proxies; loops 1 and 2: a root and
     * a parked one each */
    CHECK_INT(count, 8);
    CHECK(strstr(text, "loop 0: task") != NULL && strstr(text, "\"main\"") != NULL);
    CHECK(strstr(text, "loop 1: task") != NULL && strstr(text, "loop 2: task") != NULL);
    CHECK(strstr(text, "\"parked\": blocked on event") != NULL);
    CHECK(strstr(text, "running on another loop") != NULL);
    CHECK_ERR(coro_event_set(&dump_gate), 0);
    return NULL;
}

TEST(coro_dump_in_a_run_of_several_loops_lists_every_loops_tasks)
{
    CHECK_ERR(coro_run(dump_main, NULL, NULL, &three), 0);
}

static void *hogs_loop_1(void *arg)
{
    (void)arg;
    test_busy(0.3);
    return NULL;
}

static void *watched_main(void *arg)
{
    coro_task_options o = {"hog on 1", 0, NULL, 0, NULL};
    coro_task *t;

    (void)arg;
    o.loop = coro_loop_at(1);
    CHECK_ERR(coro_spawn(&t, hogs_loop_1, NULL, &o), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    return NULL;
}

TEST(the_watchdog_watches_every_loop)
{
    coro_run_options o = {0, 0, CORO_MSEC(50), 0, 2, 0};

    if (test_slow_env())
        return; /* the watchdog's timing (see test_sched) */
    CHECK_ERR(test_run_capturing(watched_main, NULL, &o), 0);
    CHECK(strstr(test_captured, "coro: watchdog: task \"hog on 1\" (id ") != NULL);
}
