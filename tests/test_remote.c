/*
 * test_remote.c - work handed to a loop from other threads: a posted
 * function runs as a task on the loop's thread; posts of one thread start
 * in order and many threads at once lose none; a loop that is awake is
 * posted to without a system call; an open remote keeps a waiting loop
 * from reporting a deadlock and a closed one does not; a loop ending while
 * posted to runs every post it accepted and refuses the rest; misuse and
 * faults give errors.
 *
 * Everything the tasks and threads share is static (a STACK=copy build
 * makes every task copy-stack: no task may touch another's locals).
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "sched.h"
#include "test.h"

static pthread_t loop_thread;
static coro_remote *remote;
static coro_event done_ev;

/* ======================================================================
 * a post runs as a task on the loop
 * ====================================================================== */

static long got;
static int on_loop;

static void *mark(void *arg)
{
    on_loop = pthread_equal(pthread_self(), loop_thread) && coro_task_self() != NULL;
    got = N(arg);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0); /* a task: it may block */
    CHECK_ERR(coro_event_set(&done_ev), 0);
    return NULL;
}

static void *post_one(void *arg)
{
    usleep(2000); /* the loop is asleep by now, mostly */
    CHECK_ERR(coro_post(remote, mark, arg), 0);
    return NULL;
}

static void *post_one_main(void *arg)
{
    pthread_t th;

    (void)arg;
    loop_thread = pthread_self();
    coro_event_init(&done_ev);
    CHECK_ERR(coro_remote_open(&remote), 0);
    CHECK_INT(pthread_create(&th, NULL, post_one, P(7)), 0);
    CHECK_ERR(coro_event_wait(&done_ev), 0);
    CHECK_INT(pthread_join(th, NULL), 0);
    coro_remote_close(remote);
    CHECK_INT(got, 7);
    CHECK_INT(on_loop, 1);
    return NULL;
}

TEST(a_function_posted_from_another_thread_runs_as_a_task_on_the_loop)
{
    CHECK_ERR(coro_run(post_one_main, NULL, NULL, NULL), 0);
}

/* ======================================================================
 * many posters at once: in order per thread, none lost
 * ====================================================================== */

#define POSTERS 4
static long per_thread, ran, out_of_order, next_seq[POSTERS];

static void *count_one(void *arg)
{
    long th = N(arg) % POSTERS, seq = N(arg) / POSTERS;

    if (seq != next_seq[th])
        out_of_order++;
    next_seq[th] = seq + 1;
    if (++ran == POSTERS * per_thread)
        CHECK_ERR(coro_event_set(&done_ev), 0);
    return NULL;
}

static void *post_many(void *arg)
{
    for (long i = 0; i < per_thread; i++) {
        int rc;
        while ((rc = coro_post(remote, count_one, P(i * POSTERS + N(arg)))) == CORO_EAGAIN)
            usleep(100); /* the loop is behind: back-pressure */
        CHECK_ERR(rc, 0);
    }
    return NULL;
}

static void *many_main(void *arg)
{
    pthread_t th[POSTERS];

    (void)arg;
    coro_event_init(&done_ev);
    CHECK_ERR(coro_remote_open(&remote), 0);
    for (long i = 0; i < POSTERS; i++)
        CHECK_INT(pthread_create(&th[i], NULL, post_many, P(i)), 0);
    CHECK_ERR(coro_event_wait(&done_ev), 0);
    for (int i = 0; i < POSTERS; i++)
        CHECK_INT(pthread_join(th[i], NULL), 0);
    coro_remote_close(remote);
    return NULL;
}

TEST(posts_of_one_thread_start_in_order_and_many_threads_at_once_lose_none)
{
    per_thread = test_slow_env() ? 2000 : 50000;
    CHECK_ERR(coro_run(many_main, NULL, NULL, NULL), 0);
    CHECK_INT(ran, POSTERS * per_thread);
    CHECK_INT(out_of_order, 0);
}

/* ======================================================================
 * an awake loop costs its posters no system call
 * ====================================================================== */

static void *post_burst(void *arg)
{
    for (long i = 0; i < per_thread; i++) {
        int rc;
        while ((rc = coro_post(remote, count_one, P(i * POSTERS))) == CORO_EAGAIN)
            usleep(100);
        CHECK_ERR(rc, 0);
    }
    return arg;
}

static void *awake_main(void *arg)
{
    unsigned long before = coro__inbox_wakeups();
    pthread_t th;

    (void)arg;
    coro_event_init(&done_ev);
    CHECK_ERR(coro_remote_open(&remote), 0);
    CHECK_INT(pthread_create(&th, NULL, post_burst, NULL), 0);
    while (ran < per_thread)
        CHECK_ERR(coro_yield(NULL, NULL), 0); /* always ready: the loop never sleeps */
    CHECK_INT(pthread_join(th, NULL), 0);
    CHECK_INT(coro__inbox_wakeups() - before, 0);
    coro_remote_close(remote);
    return NULL;
}

static void *asleep_main(void *arg)
{
    unsigned long before = coro__inbox_wakeups();
    pthread_t th;

    (void)arg;
    coro_event_init(&done_ev);
    CHECK_ERR(coro_remote_open(&remote), 0);
    CHECK_INT(pthread_create(&th, NULL, post_one, P(3)), 0);
    CHECK_ERR(coro_event_wait(&done_ev), 0); /* the loop sleeps in its poller */
    CHECK_INT(pthread_join(th, NULL), 0);
    CHECK(coro__inbox_wakeups() - before >= 1);
    coro_remote_close(remote);
    return NULL;
}

TEST(an_awake_loop_is_posted_to_without_a_system_call_and_a_sleeping_one_is_woken)
{
    per_thread = test_slow_env() ? 1000 : 20000;
    CHECK_ERR(coro_run(awake_main, NULL, NULL, NULL), 0);
    CHECK_INT(ran, per_thread);
    CHECK_INT(out_of_order, 0);
    CHECK_ERR(coro_run(asleep_main, NULL, NULL, NULL), 0);
    CHECK_INT(got, 3);
}

/* ======================================================================
 * deadlocks: an open remote may still wake the loop, a closed one cannot
 * ====================================================================== */

static void *post_late(void *arg)
{
    usleep(30000);
    CHECK_ERR(coro_post(remote, mark, arg), 0);
    return NULL;
}

static void *open_remote_main(void *arg)
{
    pthread_t th;

    (void)arg;
    loop_thread = pthread_self();
    coro_event_init(&done_ev);
    CHECK_ERR(coro_remote_open(&remote), 0);
    CHECK_INT(pthread_create(&th, NULL, post_late, P(5)), 0);
    CHECK_ERR(coro_event_wait(&done_ev), 0); /* nothing in the loop can set it */
    CHECK_INT(pthread_join(th, NULL), 0);
    coro_remote_close(remote);
    return NULL;
}

static void *closed_remote_main(void *arg)
{
    (void)arg;
    coro_event_init(&done_ev);
    CHECK_ERR(coro_remote_open(&remote), 0);
    coro_remote_close(remote);
    CHECK_ERR(coro_event_wait(&done_ev), CORO_ECANCELED); /* closed by the report */
    return NULL;
}

TEST(an_open_remote_keeps_a_waiting_loop_from_a_deadlock_and_a_closed_one_does_not)
{
    static const coro_run_options modes[] = {{0, 0, 0, 0, 0, 0},
                                             {CORO_RUN_VIRTUAL_CLOCK, 0, 0, 0, 0, 0},
                                             {0, 0, 0, CORO_USEC(200), 0, 0}};

    for (int i = 0; i < 3; i++) {
        got = 0;
        CHECK_ERR(coro_run(open_remote_main, NULL, NULL, &modes[i]), 0);
        CHECK_INT(got, 5);
    }
    CHECK_ERR(coro_run(closed_remote_main, NULL, NULL, NULL), CORO_EDEADLK);
}

/* ======================================================================
 * the end of a loop: every accepted post runs, later ones are refused
 * ====================================================================== */

static long accepted[POSTERS], refused[POSTERS];

static void *ran_one(void *arg)
{
    (void)arg;
    ran++;
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* the run waits for it */
    return NULL;
}

static void *post_until_refused(void *arg)
{
    long i = N(arg);
    int rc;

    /* In bursts: a thread that never stops posting keeps the run going (it
     * waits for every post it accepted, and there is always one more). */
    while ((rc = coro_post(remote, ran_one, NULL)) == 0 || rc == CORO_EAGAIN)
        if (rc != 0 || ++accepted[i] % 16 == 0)
            usleep(50);
    CHECK_ERR(rc, CORO_EENDED);
    refused[i]++;
    return NULL;
}

static pthread_t storm[POSTERS];

static void *ending_main(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_remote_open(&remote), 0);
    for (long i = 0; i < POSTERS; i++)
        CHECK_INT(pthread_create(&storm[i], NULL, post_until_refused, P(i)), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(20)), 0);
    return NULL; /* the run ends with the remote open and posts coming */
}

TEST(a_loop_ending_while_posted_to_runs_every_accepted_post_and_refuses_the_rest)
{
    long total = 0;

    CHECK_ERR(coro_run(ending_main, NULL, NULL, NULL), 0);
    for (int i = 0; i < POSTERS; i++) {
        CHECK_INT(pthread_join(storm[i], NULL), 0);
        CHECK_INT(refused[i], 1);
        total += accepted[i];
    }
    CHECK(total > 0);
    CHECK_INT(ran, total);
    CHECK_ERR(coro_post(remote, ran_one, NULL), CORO_EENDED); /* still refused */
    coro_remote_close(remote);                                /* and freed */
}

/* ======================================================================
 * errors, misuse, faults
 * ====================================================================== */

static void *fail(void *arg)
{
    (void)arg;
    coro_error("posted and failed");
    return NULL;
}

static void *error_main(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_remote_open(&remote), 0);
    CHECK_ERR(coro_post(remote, fail, NULL), 0); /* from a task of the loop itself */
    coro_remote_close(remote);
    return P(1);
}

TEST(an_error_in_a_posted_function_fails_the_run)
{
    CHECK_ERR(coro_run(error_main, NULL, NULL, NULL), CORO_EERROR);
    CHECK_STR(coro_run_error(CORO_EERROR), "posted and failed");
}

static void *misuse_main(void *arg)
{
    coro_remote *r = P(1);

    (void)arg;
    CHECK_ERR(coro_remote_open(NULL), CORO_EINVAL);
    CHECK_ERR(coro_remote_open(&r), 0);
    CHECK_ERR(coro_post(NULL, mark, NULL), CORO_EINVAL);
    CHECK_ERR(coro_post(r, NULL, NULL), CORO_EINVAL);
    coro_remote_close(r);
    coro_remote_close(NULL);
    return NULL;
}

TEST(remote_misuse_is_refused)
{
    coro_remote *r = P(1);

    CHECK_ERR(coro_remote_open(&r), CORO_ENOLOOP);
    CHECK_PTR(r, NULL);
    CHECK_ERR(coro_run(misuse_main, NULL, NULL, NULL), 0);
}

static void *fault_main(void *arg)
{
    (void)arg;
    coro_event_init(&done_ev);
    coro__sys_inject(CORO__SYS_WAKE, 1, 1, EMFILE);
    CHECK_ERR(coro_remote_open(&remote), CORO_EMFILE);
    CHECK_PTR(remote, NULL);
    CHECK_ERR(coro_remote_open(&remote), 0); /* works again */
    coro__fail_after(1);
    CHECK_ERR(coro_post(remote, mark, NULL), CORO_ENOMEM); /* nothing posted */
    coro__fail_after(0);
    CHECK_ERR(coro_post(remote, mark, P(9)), 0);
    CHECK_ERR(coro_event_wait(&done_ev), 0);
    CHECK_INT(got, 9);
    coro_remote_close(remote);
    return NULL;
}

static void *start_fault_main(void *arg)
{
    pthread_t th;

    (void)arg;
    coro_event_init(&done_ev);
    CHECK_ERR(coro_remote_open(&remote), 0);
    coro__fail_after(1); /* the loop's next allocation: the posted task's start */
    CHECK_INT(pthread_create(&th, NULL, post_one, P(1)), 0);
    CHECK_ERR(coro_event_wait(&done_ev), CORO_ECANCELED); /* the run failed */
    coro__fail_after(0);
    CHECK_INT(pthread_join(th, NULL), 0);
    coro_remote_close(remote);
    return NULL;
}

TEST(faults_give_errors_and_a_post_that_cannot_start_fails_the_run)
{
    loop_thread = pthread_self();
    CHECK_ERR(coro_run(fault_main, NULL, NULL, NULL), 0);
    CHECK_ERR(coro_run(start_fault_main, NULL, NULL, NULL), CORO_EERROR);
    CHECK_STR(coro_run_error(CORO_EERROR), "a posted function could not start: not enough memory");
}

static void *backpressure_main(void *arg)
{
    (void)arg;
    ran = 0;
    CHECK_ERR(coro_remote_open(&remote), 0);
    for (long i = 0; i < CORO_POST_MAX; i++) /* the loop takes none meanwhile */
        CHECK_ERR(coro_post(remote, ran_one, NULL), 0);
    CHECK_ERR(coro_post(remote, ran_one, NULL), CORO_EAGAIN);
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* the loop takes a batch */
    CHECK_ERR(coro_post(remote, ran_one, NULL), 0);
    coro_remote_close(remote);
    return NULL;
}

TEST(a_loop_that_far_behind_refuses_posts_with_eagain_and_runs_every_accepted_one)
{
    CHECK_ERR(coro_run(backpressure_main, NULL, NULL, NULL), 0);
    CHECK_INT(ran, CORO_POST_MAX + 1);
}

/* A remote closed by another thread, the last one: the loop, asleep,
 * must look again and report the deadlock, not sleep for ever. */
static void *close_later(void *arg)
{
    (void)arg;
    usleep(20000);
    coro_remote_close(remote);
    return NULL;
}

static pthread_t closer;

static void *closed_elsewhere_main(void *arg)
{
    (void)arg;
    coro_event_init(&done_ev);
    CHECK_ERR(coro_remote_open(&remote), 0);
    CHECK_INT(pthread_create(&closer, NULL, close_later, NULL), 0);
    CHECK_ERR(coro_event_wait(&done_ev), CORO_ECANCELED); /* closed by the report */
    return NULL;
}

TEST(a_remote_closed_by_another_thread_lets_the_loop_report_its_deadlock)
{
    coro_run_options two = {0, 0, 0, 0, 2, 0};

    CHECK_ERR(coro_run(closed_elsewhere_main, NULL, NULL, NULL), CORO_EDEADLK);
    CHECK_INT(pthread_join(closer, NULL), 0);
    CHECK_ERR(coro_run(closed_elsewhere_main, NULL, NULL, &two), CORO_EDEADLK);
    CHECK_INT(pthread_join(closer, NULL), 0);
}

/* The last remote closed by another thread just as the loop is about to
 * sleep (it counted the remote open a moment before): the loop still sees
 * that nothing can wake it any more, and reports the deadlock instead of
 * sleeping for ever. A busy poll makes the window as long as itself. */
static coro_remote *late_remote;
static coro_chan *late_ch;
static pthread_t late_closer;

static void *close_late(void *arg)
{
    (void)arg;
    usleep(20000);
    coro_remote_close(late_remote);
    return NULL;
}

static void *waits_for_a_post(void *arg)
{
    int v;

    (void)arg;
    CHECK_ERR(coro_remote_open(&late_remote), 0);
    CHECK_ERR(coro_chan_open(&late_ch, sizeof v, 0), 0);
    CHECK(pthread_create(&late_closer, NULL, close_late, NULL) == 0);
    (void)coro_chan_recv(late_ch, &v); /* nothing will ever come */
    return NULL;
}

TEST(the_last_remote_closed_as_the_loop_goes_to_sleep_ends_in_a_deadlock_not_a_hang)
{
    coro_run_options one = {0, 0, 0, CORO_MSEC(100), 0, 0}, two = {0, 0, 0, CORO_MSEC(100), 2, 0};

    CHECK_ERR(coro_run(waits_for_a_post, NULL, NULL, &one), CORO_EDEADLK);
    CHECK(pthread_join(late_closer, NULL) == 0);
    CHECK_ERR(coro_chan_free(late_ch), 0);
    CHECK_ERR(coro_run(waits_for_a_post, NULL, NULL, &two), CORO_EDEADLK);
    CHECK(pthread_join(late_closer, NULL) == 0);
    CHECK_ERR(coro_chan_free(late_ch), 0);
}
