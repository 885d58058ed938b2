/*
 * test_shared.c - channels, select, mutex, semaphore, wait group and event
 * between tasks of different loops: values in order and exactly once, a
 * channel shared while its own loop's tasks wait on it, close waking every
 * loop's waiters, select across loops (fair, deadlines, cancellation), the
 * sync objects' exclusion and wake-ups, a storm of sends, receives, selects,
 * deadlines, cancellations and a close on random loops, a deadlock on a
 * shared channel, and a channel used after its run.
 *
 * Everything the tasks share is static (a STACK=copy build makes every task
 * copy-stack: no task may touch another's locals).
 */
#include <stdlib.h>

#include "test.h"

static coro_run_options two = {0, 0, 0, 0, 2, 0};
static coro_run_options three = {0, 0, 0, 0, 3, 0};

/* ======================================================================
 * channels
 * ====================================================================== */

#define PINGS 20000

static coro_chan *ping, *pong;

static void *ponger(void *arg)
{
    long v;

    (void)arg;
    CHECK_INT(coro_loop_index(coro_loop_self()), 1);
    for (;;) {
        int rc = coro_chan_recv(ping, &v);
        if (rc == CORO_ECHCLOSED)
            break;
        CHECK_ERR(rc, 0);
        v++;
        CHECK_ERR(coro_chan_send(pong, &v), 0);
    }
    return NULL;
}

static void *pingpong_main(void *arg)
{
    size_t cap = (size_t)N(arg);
    coro_task *t;
    long v;

    CHECK_ERR(coro_chan_open(&ping, sizeof(long), cap), 0);
    CHECK_ERR(coro_chan_open(&pong, sizeof(long), cap), 0);
    t = test_spawn_on(1, ponger, NULL);
    for (long i = 0; i < PINGS; i++) {
        CHECK_ERR(coro_chan_send(ping, &i), 0);
        CHECK_ERR(coro_chan_recv(pong, &v), 0);
        CHECK_INT(v, i + 1);
    }
    CHECK_ERR(coro_chan_close(ping), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    CHECK_ERR(coro_chan_free(ping), 0);
    CHECK_ERR(coro_chan_free(pong), 0);
    return NULL;
}

TEST(an_unbuffered_and_a_buffered_channel_ping_pong_between_two_loops)
{
    CHECK_ERR(coro_run(pingpong_main, P(0), NULL, &two), 0);
    CHECK_ERR(coro_run(pingpong_main, P(3), NULL, &two), 0);
}

/* Several producers on every loop into one buffered channel, consumers on
 * every loop: each value arrives once, and each producer's in order. */
#define PRODUCERS 6
#define PER_PRODUCER 5000

static coro_chan *stream;
static long last_seen[3][PRODUCERS];
static long received[3];
static coro_wg consumers_done;

static void *producer(void *arg)
{
    long p = N(arg);

    for (long i = 0; i < PER_PRODUCER; i++) {
        long v = p * 1000000 + i;
        CHECK_ERR(coro_chan_send(stream, &v), 0);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    int me = (int)N(arg);
    long v;

    for (int i = 0; i < PRODUCERS; i++)
        last_seen[me][i] = -1;
    while (coro_chan_recv(stream, &v) == 0) {
        long p = v / 1000000, i = v % 1000000;
        CHECK(p >= 0 && p < PRODUCERS);
        CHECK(i > last_seen[me][p]); /* a producer's values keep their order */
        last_seen[me][p] = i;
        received[me]++;
    }
    CHECK_ERR(coro_wg_done(&consumers_done), 0);
    return NULL;
}

static void *many_main(void *arg)
{
    coro_task *prod[PRODUCERS];

    (void)arg;
    CHECK_ERR(coro_chan_open(&stream, sizeof(long), 16), 0);
    coro_wg_init(&consumers_done);
    CHECK_ERR(coro_wg_add(&consumers_done, 3), 0);
    for (int i = 0; i < 3; i++)
        (void)test_spawn_on(i, consumer, P(i)); /* detached in effect: waited by the wait group */
    for (int i = 0; i < PRODUCERS; i++)
        prod[i] = test_spawn_on(i % 3, producer, P(i));
    for (int i = 0; i < PRODUCERS; i++)
        CHECK_ERR(coro_await(prod[i], NULL), 0);
    CHECK_ERR(coro_chan_close(stream), 0); /* the consumers drain what is buffered */
    CHECK_ERR(coro_wg_wait(&consumers_done), 0);
    CHECK_INT(received[0] + received[1] + received[2], PRODUCERS * PER_PRODUCER);
    CHECK_ERR(coro_chan_free(stream), 0);
    return NULL;
}

TEST(producers_and_consumers_on_three_loops_each_value_arrives_once_in_order)
{
    CHECK_ERR(coro_run(many_main, NULL, NULL, &three), 0);
}

/* A token passed round three loops by unbuffered channels: every hand-off
 * wakes a loop that has nothing else to do, with more loops than CPUs
 * here, so each goes to sleep between hops, and a wake-up lost between a
 * loop's going to sleep and a post would hang the ring. */
#define HOPS 2000
static coro_chan *ring[3];

static void *ring_stage(void *arg)
{
    long me = N(arg), v = 0;

    if (me == 0)
        CHECK_ERR(coro_chan_send(ring[1], &v), 0);
    for (int k = 0; k < HOPS; k++) {
        long want = me == 0 ? 3L * k + 2 : 3L * k + me - 1;
        CHECK_ERR(coro_chan_recv(ring[me], &v), 0);
        CHECK_INT(v, want);
        v++;
        if (me != 0 || k + 1 < HOPS)
            CHECK_ERR(coro_chan_send(ring[(me + 1) % 3], &v), 0);
    }
    return NULL;
}

static void *ring_main(void *arg)
{
    coro_task *t[3];

    (void)arg;
    for (int i = 0; i < 3; i++)
        CHECK_ERR(coro_chan_open(&ring[i], sizeof(long), 0), 0);
    for (int i = 0; i < 3; i++)
        t[i] = test_spawn_on(i, ring_stage, P(i));
    for (int i = 0; i < 3; i++)
        CHECK_ERR(coro_await(t[i], NULL), 0);
    for (int i = 0; i < 3; i++)
        CHECK_ERR(coro_chan_free(ring[i]), 0);
    return NULL;
}

TEST(a_token_passed_round_three_loops_makes_every_hop)
{
    CHECK_ERR(coro_run(ring_main, NULL, NULL, &three), 0);
}

/* The channel's own loop has tasks parked on it when another loop first
 * uses it: they go on, as shared waiters, and nothing is lost. */
static coro_chan *handover;
static long handover_got[4];

static void *local_receiver(void *arg)
{
    CHECK_ERR(coro_chan_recv(handover, &handover_got[N(arg)]), 0);
    return NULL;
}

static void *remote_sender(void *arg)
{
    (void)arg;
    for (long v = 1; v <= 4; v++)
        CHECK_ERR(coro_chan_send(handover, &v), 0);
    return NULL;
}

static void *handover_main(void *arg)
{
    coro_task *r[4], *s;

    (void)arg;
    CHECK_ERR(coro_chan_open(&handover, sizeof(long), 0), 0);
    for (int i = 0; i < 4; i++)
        r[i] = test_spawn_on(0, local_receiver, P(i));
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0); /* all four parked, unshared */
    s = test_spawn_on(1, remote_sender, NULL);
    for (int i = 0; i < 4; i++)
        CHECK_ERR(coro_await(r[i], NULL), 0);
    CHECK_ERR(coro_await(s, NULL), 0);
    /* FIFO: the receivers parked in order get the values in order */
    for (int i = 0; i < 4; i++)
        CHECK_INT(handover_got[i], i + 1);
    CHECK_ERR(coro_chan_free(handover), 0);
    return NULL;
}

TEST(a_channel_is_handed_over_while_its_own_loops_tasks_wait_on_it)
{
    CHECK_ERR(coro_run(handover_main, NULL, NULL, &two), 0);
}

/* Close from another loop: receivers on both loops wake with
 * CORO_ECHCLOSED after the buffer drains, senders with it at once. */
static coro_chan *closing;
static int closed_seen;

static void *closed_receiver(void *arg)
{
    long v;
    int rc;

    (void)arg;
    while ((rc = coro_chan_recv(closing, &v)) == 0)
        ;
    CHECK_ERR(rc, CORO_ECHCLOSED);
    __atomic_add_fetch(&closed_seen, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void *closer(void *arg)
{
    long v = 7;

    (void)arg;
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    CHECK_ERR(coro_chan_close(closing), 0);
    CHECK_ERR(coro_chan_close(closing), CORO_ECHCLOSED);
    CHECK_ERR(coro_chan_send(closing, &v), CORO_ECHCLOSED);
    CHECK_ERR(coro_chan_try_send(closing, &v), CORO_ECHCLOSED);
    return NULL;
}

static void *close_main(void *arg)
{
    coro_task *t[5];

    (void)arg;
    CHECK_ERR(coro_chan_open(&closing, sizeof(long), 2), 0);
    for (int i = 0; i < 4; i++)
        t[i] = test_spawn_on(i % 2, closed_receiver, NULL);
    t[4] = test_spawn_on(1, closer, NULL);
    for (int i = 0; i < 5; i++)
        CHECK_ERR(coro_await(t[i], NULL), 0);
    CHECK_INT(closed_seen, 4);
    CHECK_ERR(coro_chan_free(closing), 0);
    return NULL;
}

TEST(close_from_another_loop_wakes_every_loops_waiters)
{
    CHECK_ERR(coro_run(close_main, NULL, NULL, &two), 0);
}

/* Deadlines, cancellation and the try forms across loops. */
static coro_chan *quiet;

static void *canceled_receiver(void *arg)
{
    long v;

    (void)arg;
    return P(coro_chan_recv(quiet, &v));
}

static void *edges_main(void *arg)
{
    coro_task *t;
    void *out;
    long v = 1;

    (void)arg;
    CHECK_ERR(coro_chan_open(&quiet, sizeof(long), 0), 0);
    t = test_spawn_on(1, canceled_receiver, NULL);
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_await(t, &out), CORO_ETASKCANCELED);
    CHECK_ERR(coro_chan_try_send(quiet, &v), CORO_EAGAIN); /* nobody waits now */
    CHECK_ERR(coro_chan_send_until(quiet, &v, coro_after(CORO_MSEC(1))), CORO_ETIMEDOUT);
    CHECK_INT(coro_chan_len(quiet), 0);
    CHECK_ERR(coro_chan_free(quiet), 0);
    return NULL;
}

TEST(deadlines_cancellation_and_try_forms_hold_across_loops)
{
    CHECK_ERR(coro_run(edges_main, NULL, NULL, &two), 0);
}

/* A task canceled while it waits for the channel's loop to hand the channel
 * over (a wait nothing but the answer ends) hears of it once the answer
 * came: cancellation is level-triggered. */
static coro_chan *slow;
static int asking;

static void *asks_for_handover(void *arg)
{
    long v;

    (void)arg;
    __atomic_store_n(&asking, 1, __ATOMIC_RELEASE);
    return P(coro_chan_recv(slow, &v));
}

/* On loop 1: starts the asker there and cancels it while it waits. */
static void *cancels_asker(void *arg)
{
    coro_task *t;
    void *out = NULL;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, asks_for_handover, NULL, NULL), 0);
    while (!__atomic_load_n(&asking, __ATOMIC_ACQUIRE))
        CHECK_ERR(coro_sleep(CORO_USEC(100)), 0);
    CHECK_ERR(coro_sleep(CORO_USEC(100)), 0); /* it has asked by now */
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_await(t, &out), CORO_ETASKCANCELED);
    CHECK_ERR(N(out), CORO_ECANCELED);
    return NULL;
}

static void *busy_owner_main(void *arg)
{
    coro_task *p;

    (void)arg;
    CHECK_ERR(coro_chan_open(&slow, sizeof(long), 0), 0);
    p = test_spawn_on(1, cancels_asker, NULL);
    while (!__atomic_load_n(&asking, __ATOMIC_ACQUIRE))
        CHECK_ERR(coro_sleep(CORO_USEC(100)), 0);
    /* loop 0 works without a pause: the request waits in its inbox while
     * the asker is canceled */
    test_busy(test_slow_env() ? 0.3 : 0.02);
    CHECK_ERR(coro_await(p, NULL), 0);
    CHECK_ERR(coro_chan_free(slow), 0);
    return NULL;
}

TEST(a_task_canceled_while_a_channel_is_handed_over_hears_of_it)
{
    CHECK_ERR(coro_run(busy_owner_main, NULL, NULL, &two), 0);
}

/* ======================================================================
 * select
 * ====================================================================== */

static coro_chan *sa, *sb;

#define DRAWS 4000

static void *filler(void *arg)
{
    coro_chan *ch = arg;

    for (long v = 0; v < DRAWS; v++)
        CHECK_ERR(coro_chan_send(ch, &v), 0);
    return NULL;
}

static void *open_sb(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_chan_open(&sb, sizeof(long), DRAWS), 0);
    return NULL;
}

static void *select_main(void *arg)
{
    long a, b;
    int count[2] = {0, 0};

    (void)arg;
    CHECK_ERR(coro_chan_open(&sa, sizeof(long), DRAWS), 0);          /* loop 0's */
    CHECK_ERR(coro_await(test_spawn_on(1, open_sb, NULL), NULL), 0); /* loop 1's */
    CHECK_ERR(coro_await(test_spawn_on(1, filler, sa), NULL), 0);    /* each filled */
    CHECK_ERR(coro_await(test_spawn_on(0, filler, sb), NULL), 0);    /* by the other */
    for (int i = 0; i < DRAWS; i++) {
        coro_case c[2] = {{sa, CORO_RECV, &a, 0}, {sb, CORO_RECV, &b, 0}};
        int k = coro_select(c, 2);
        if (k != 0 && k != 1) {
            CHECK_ERR(k, 0);
            break;
        }
        CHECK_ERR(c[k].result, 0);
        CHECK_INT(k == 0 ? a : b, count[k]); /* each channel's values in order */
        count[k]++;
    }
    /* both stay ready throughout: a fair choice takes each about half the
     * time (4,000 draws: 6 sigma is 190) */
    CHECK(count[0] > 1800 && count[1] > 1800);
    CHECK_INT(coro_chan_len(sa) + coro_chan_len(sb), DRAWS);
    CHECK_ERR(coro_chan_close(sa), 0);
    {
        coro_case c[2] = {{sa, CORO_SEND, &a, 0}, {sb, CORO_SEND, &b, 0}};
        int k = coro_try_select(c, 2); /* a closed channel's case is ready */
        CHECK(k == 0 || k == 1);
        if (k == 0 || k == 1)
            CHECK_ERR(c[k].result, k == 0 ? CORO_ECHCLOSED : 0);
    }
    CHECK_ERR(coro_chan_free(sa), 0);
    CHECK_ERR(coro_chan_free(sb), 0);
    return NULL;
}

TEST(select_over_channels_of_two_loops_is_fair)
{
    CHECK_ERR(coro_run(select_main, NULL, NULL, &two), 0);
}

/* A select parked on channels of two loops: exactly one case fires, the
 * other value stays where it was; its deadline and cancellation work. */
static coro_chan *x0, *x1;

static void *parked_select(void *arg)
{
    static long got[3];
    long *g = &got[N(arg)];
    coro_case c[2] = {{x0, CORO_RECV, g, 0}, {x1, CORO_RECV, g, 0}};
    int k = coro_select_until(c, 2, coro_after(CORO_SEC(5)));

    if (k >= 0) {
        CHECK_ERR(c[k].result, 0);
        return P(*g);
    }
    return P(k);
}

static void *opener_on_1(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_chan_open(&x1, sizeof(long), 0), 0);
    return NULL;
}

static void *select_parked_main(void *arg)
{
    coro_task *t[3];
    void *out;
    long v = 5, w = 6;

    (void)arg;
    CHECK_ERR(coro_chan_open(&x0, sizeof(long), 0), 0);
    CHECK_ERR(coro_await(test_spawn_on(1, opener_on_1, NULL), NULL), 0);
    for (int i = 0; i < 3; i++)
        t[i] = test_spawn_on(i % 2, parked_select, P(i));
    CHECK_ERR(coro_sleep(CORO_MSEC(3)), 0);
    CHECK_ERR(coro_chan_send(x1, &v), 0); /* one select takes it */
    CHECK_ERR(coro_chan_send(x0, &w), 0); /* another takes this */
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    for (int i = 0; i < 3; i++) /* the two served have returned; the third waits */
        CHECK_ERR(coro_cancel(t[i]), 0);
    {
        long sum = 0;
        int canceled = 0;
        for (int i = 0; i < 3; i++) {
            int rc = coro_await(t[i], &out);
            CHECK(rc == 0 || rc == CORO_ETASKCANCELED);
            if (N(out) == CORO_ECANCELED)
                canceled++;
            else
                sum += N(out);
        }
        CHECK_INT(canceled, 1);
        CHECK_INT(sum, 11); /* each value taken by exactly one select */
    }
    CHECK_ERR(coro_try_select((coro_case[]){{x0, CORO_SEND, &v, 0}}, 1), CORO_EAGAIN);
    CHECK_ERR(coro_select_until((coro_case[]){{x0, CORO_RECV, &v, 0}, {x1, CORO_RECV, &v, 0}}, 2,
                                coro_after(CORO_MSEC(1))),
              CORO_ETIMEDOUT);
    CHECK_ERR(coro_chan_free(x0), 0);
    CHECK_ERR(coro_chan_free(x1), 0);
    return NULL;
}

TEST(a_select_parked_on_two_loops_channels_takes_exactly_one_value)
{
    CHECK_ERR(coro_run(select_parked_main, NULL, NULL, &two), 0);
}

/* ======================================================================
 * mutex, semaphore, wait group, event
 * ====================================================================== */

static coro_mutex mu = CORO_MUTEX_INIT;
static coro_sem sem = CORO_SEM_INIT(2);
static coro_wg wg = CORO_WG_INIT;
static coro_event ev = CORO_EVENT_INIT;
static long counter;
static int inside, most_inside;

static void *locker(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_event_wait(&ev), 0);
    for (int i = 0; i < 2000; i++) {
        CHECK_ERR(coro_mutex_lock(&mu), 0);
        counter++; /* not atomic: the mutex excludes */
        if ((i & 63) == 0)
            CHECK_ERR(coro_yield(NULL, NULL), 0);
        CHECK_ERR(coro_mutex_unlock(&mu), 0);
        if ((i & 15) == 0) {
            int n;
            CHECK_ERR(coro_sem_acquire(&sem), 0);
            n = __atomic_add_fetch(&inside, 1, __ATOMIC_RELAXED);
            if (n > __atomic_load_n(&most_inside, __ATOMIC_RELAXED))
                __atomic_store_n(&most_inside, n, __ATOMIC_RELAXED);
            CHECK_ERR(coro_yield(NULL, NULL), 0);
            __atomic_sub_fetch(&inside, 1, __ATOMIC_RELAXED);
            CHECK_ERR(coro_sem_release(&sem), 0);
        }
    }
    CHECK_ERR(coro_wg_done(&wg), 0);
    return NULL;
}

static void *sync_main(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_wg_add(&wg, 6), 0);
    for (int i = 0; i < 6; i++)
        CHECK_ERR(coro_spawn(NULL, locker, NULL,
                             &(coro_task_options){NULL, 0, NULL, 0, coro_loop_at(i % 2)}),
                  0);
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    CHECK(!coro_event_is_set(&ev));
    CHECK_ERR(coro_event_set(&ev), 0); /* wakes waiters on both loops */
    CHECK_ERR(coro_wg_wait(&wg), 0);   /* done by tasks of both loops */
    CHECK_INT(counter, 6 * 2000);
    CHECK(most_inside >= 1 && most_inside <= 2);
    CHECK_ERR(coro_mutex_trylock(&mu), 0);
    CHECK_ERR(coro_mutex_lock_until(&mu, coro_after(CORO_MSEC(1))), CORO_EBUSY);
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    CHECK_ERR(coro_mutex_unlock(&mu), CORO_EPERM);
    return NULL;
}

TEST(mutex_semaphore_wait_group_and_event_work_between_loops)
{
    CHECK_ERR(coro_run(sync_main, NULL, NULL, &two), 0);
}

/* A mutex held on one loop times out and is canceled on another. */
static int held;

static void *held_elsewhere(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_mutex_lock(&mu), 0);
    __atomic_store_n(&held, 1, __ATOMIC_RELEASE);
    CHECK_ERR(coro_sleep(CORO_MSEC(20)), 0);
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    return NULL;
}

static void *lock_waiter(void *arg)
{
    (void)arg;
    return P(coro_mutex_lock(&mu));
}

static void *mutex_edges_main(void *arg)
{
    coro_task *h, *w;
    void *out;

    (void)arg;
    h = test_spawn_on(1, held_elsewhere, NULL);
    while (!__atomic_load_n(&held, __ATOMIC_ACQUIRE))
        CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    CHECK_ERR(coro_mutex_lock_until(&mu, coro_after(CORO_MSEC(1))), CORO_ETIMEDOUT);
    w = test_spawn_on(0, lock_waiter, NULL);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    CHECK_ERR(coro_cancel(w), 0);
    CHECK_ERR(coro_await(w, &out), CORO_ETASKCANCELED);
    CHECK_ERR(coro_mutex_lock(&mu), 0); /* handed over when h unlocks */
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    CHECK_ERR(coro_await(h, NULL), 0);
    return NULL;
}

TEST(a_mutex_held_on_another_loop_times_out_cancels_and_hands_over)
{
    CHECK_ERR(coro_run(mutex_edges_main, NULL, NULL, &two), 0);
}

/* ======================================================================
 * a storm
 * ====================================================================== */

#define STORM_CHANS 3
#define STORM_TASKS 24
#define STORM_VALUES 400

static coro_chan *storm[STORM_CHANS];
static unsigned char *seen; /* seen[v]: times value v was received */
static long sent_ok, recv_ok;

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void *stormer(void *arg)
{
    unsigned s = (unsigned)N(arg) * 2654435761u + 1;
    long me = N(arg);

    for (long i = 0; i < STORM_VALUES; i++) {
        long v = me * STORM_VALUES + i, got = -1;
        coro_chan *a = storm[rnd(&s) % STORM_CHANS], *b = storm[rnd(&s) % STORM_CHANS];
        coro_time dl = coro_after((coro_time)(rnd(&s) % 200) * 1000);
        int rc;

        switch (rnd(&s) % 4) {
        case 0:
            rc = coro_chan_send_until(a, &v, dl);
            if (rc == 0)
                __atomic_add_fetch(&sent_ok, 1, __ATOMIC_RELAXED);
            break;
        case 1:
            rc = coro_chan_recv_until(a, &got, dl);
            break;
        case 2: {
            coro_case c[2] = {{a, CORO_SEND, &v, 0}, {b, CORO_RECV, &got, 0}};
            rc = coro_select_until(c, 2, dl);
            if (rc == 0 && c[0].result == 0)
                __atomic_add_fetch(&sent_ok, 1, __ATOMIC_RELAXED);
            rc = rc == 1 ? c[1].result : -1;
            break;
        }
        default:
            rc = coro_chan_try_recv(a, &got);
        }
        if (rc == 0 && got >= 0) {
            CHECK(got < STORM_TASKS * STORM_VALUES);
            __atomic_add_fetch(&seen[got], 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&recv_ok, 1, __ATOMIC_RELAXED);
        }
        if (rc == CORO_ECANCELED)
            break;
    }
    return NULL;
}

static void *storm_main(void *arg)
{
    coro_task *t[STORM_TASKS];
    unsigned s = (unsigned)N(arg);
    long got;

    for (int i = 0; i < STORM_CHANS; i++)
        CHECK_ERR(coro_chan_open(&storm[i], sizeof(long), (size_t)i), 0);
    for (int i = 0; i < STORM_TASKS; i++) {
        coro_task_options o = {NULL, 0, NULL, CORO_ANY_LOOP, NULL};
        CHECK_ERR(coro_spawn(&t[i], stormer, P(i), &o), 0);
    }
    CHECK_ERR(coro_sleep((coro_time)(rnd(&s) % 3000) * 1000), 0);
    for (int i = 0; i < STORM_TASKS; i += 1 + (int)(rnd(&s) % 5))
        CHECK_ERR(coro_cancel(t[i]), 0);
    CHECK_ERR(coro_chan_close(storm[rnd(&s) % STORM_CHANS]), 0);
    for (int i = 0; i < STORM_TASKS; i++) {
        int rc = coro_await(t[i], NULL);
        CHECK(rc == 0 || rc == CORO_ETASKCANCELED);
    }
    /* what is still buffered was sent and not received */
    for (int i = 0; i < STORM_CHANS; i++)
        while (coro_chan_try_recv(storm[i], &got) == 0) {
            __atomic_add_fetch(&seen[got], 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&recv_ok, 1, __ATOMIC_RELAXED);
        }
    CHECK_INT(recv_ok, sent_ok); /* every value sent arrived, once */
    for (long v = 0; v < STORM_TASKS * STORM_VALUES; v++)
        CHECK(seen[v] <= 1);
    for (int i = 0; i < STORM_CHANS; i++)
        CHECK_ERR(coro_chan_free(storm[i]), 0);
    return NULL;
}

TEST(a_storm_of_sends_receives_selects_deadlines_cancels_and_a_close_across_loops)
{
    int rounds = test_slow_env() ? 3 : 30;

    seen = calloc(STORM_TASKS * STORM_VALUES, 1);
    CHECK(seen != NULL);
    for (int r = 0; r < rounds; r++) {
        memset(seen, 0, STORM_TASKS * STORM_VALUES);
        sent_ok = recv_ok = 0;
        CHECK_ERR(coro_run(storm_main, P(r + 1), NULL, r % 2 ? &three : &two), 0);
    }
    free(seen);
}

/* ======================================================================
 * a deadlock, and a channel outliving its run
 * ====================================================================== */

static coro_chan *nobody;

static void *waits_forever(void *arg)
{
    long v;

    (void)arg;
    return P(coro_chan_recv(nobody, &v));
}

static void *deadlock_main(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_chan_open(&nobody, sizeof(long), 0), 0);
    (void)test_spawn_on(1, waits_forever, NULL);
    (void)test_spawn_on(0, waits_forever, NULL);
    return NULL;
}

TEST(a_deadlock_on_a_shared_channel_is_reported_with_each_task)
{
    CHECK_ERR(coro_run(deadlock_main, NULL, NULL, &two), CORO_EDEADLK);
    CHECK_ERR(coro_chan_free(nobody), 0);
}

static coro_chan *kept;

static void *keep_main(void *arg)
{
    long v = 1;

    (void)arg;
    CHECK_ERR(coro_chan_open(&kept, sizeof(long), 1), 0);
    CHECK_ERR(coro_chan_send(kept, &v), 0);
    return NULL;
}

/* Argument errors before cancellation: a canceled task still hears that
 * the channel is not of its run. */
static void *canceled_later(void *arg)
{
    long v;

    (void)arg;
    CHECK_ERR(coro_cancel(coro_task_self()), 0);
    CHECK_ERR(coro_chan_recv(kept, &v), CORO_ETHREAD);
    CHECK_ERR(coro_chan_recv(NULL, &v), CORO_EINVAL);
    return NULL;
}

static void *later_main(void *arg)
{
    long v;

    (void)arg;
    CHECK_ERR(coro_chan_recv(kept, &v), CORO_ETHREAD);
    CHECK_ERR(coro_chan_try_recv(kept, &v), CORO_ETHREAD);
    CHECK_ERR(coro_chan_close(kept), CORO_ETHREAD);
    CHECK_ERR(coro_select((coro_case[]){{kept, CORO_RECV, &v, 0}}, 1), CORO_ETHREAD);
    {
        coro_task *t;
        CHECK_ERR(coro_spawn(&t, canceled_later, NULL, NULL), 0);
        (void)coro_await(t, NULL);
    }
    return NULL;
}

TEST(a_channel_used_after_its_run_has_ended_is_refused)
{
    CHECK_ERR(coro_run(keep_main, NULL, NULL, &two), 0);
    CHECK_ERR(coro_run(later_main, NULL, NULL, &two), 0);
    CHECK_ERR(coro_run(later_main, NULL, NULL, NULL), 0);
    CHECK_INT(coro_chan_len(kept), 1);
    CHECK_ERR(coro_chan_free(kept), 0); /* by a thread without a loop */
}

/* ======================================================================
 * lifetimes: what a woken task touches, what a shutdown frees
 * ====================================================================== */

/* A receiver woken from another loop never touches the channel again: its
 * sender may close and free it before the wake-up is even delivered. */
static coro_chan *freed;

static void *freed_receiver(void *arg)
{
    long v = 0;

    (void)arg;
    CHECK_ERR(coro_chan_recv(freed, &v), 0);
    CHECK_INT(v, 42);
    return NULL;
}

static void *hog(void *arg)
{
    (void)arg;
    test_busy(test_slow_env() ? 0.3 : 0.05); /* the loop takes no message meanwhile */
    return NULL;
}

static void *freed_main(void *arg)
{
    coro_task *r, *h;
    long v = 42;

    (void)arg;
    CHECK_ERR(coro_chan_open(&freed, sizeof(long), 0), 0);
    r = test_spawn_on(1, freed_receiver, NULL);
    CHECK_ERR(coro_sleep(CORO_MSEC(test_slow_env() ? 100 : 5)), 0); /* r waits */
    h = test_spawn_on(1, hog, NULL); /* loop 1 takes no message for a while */
    CHECK_ERR(coro_sleep(CORO_MSEC(test_slow_env() ? 50 : 5)), 0);
    CHECK_ERR(coro_chan_send(freed, &v), 0); /* r claimed; its wake-up waits */
    CHECK_ERR(coro_chan_close(freed), 0);
    CHECK_ERR(coro_chan_free(freed), 0); /* nobody waits on it any more */
    CHECK_ERR(coro_await(r, NULL), 0);
    CHECK_ERR(coro_await(h, NULL), 0);
    return NULL;
}

TEST(a_task_woken_from_another_loop_does_not_touch_the_channel_after)
{
    CHECK_ERR(coro_run(freed_main, NULL, NULL, &two), 0);
}

/* The same for a copy-stack task waiting with a value too large for its
 * record: its heap copy is copied out after the wake-up without asking
 * the channel its size (a receive, and a select). */
typedef struct big {
    long v[4];
} big;

static void *freed_big_receiver(void *arg)
{
    big b = {{0, 0, 0, 0}};
    coro_case c = {freed, CORO_RECV, &b, 0};

    if (arg == NULL)
        CHECK_ERR(coro_chan_recv(freed, &b), 0);
    else
        CHECK_INT(coro_select(&c, 1), 0);
    CHECK_INT(b.v[0] + b.v[3], 43);
    return NULL;
}

static void *freed_big_main(void *arg)
{
    coro_task_options o = {NULL, 0, NULL, CORO_COPY_STACK, NULL};
    coro_task *r, *h;
    big b = {{42, 0, 0, 1}};

    CHECK_ERR(coro_chan_open(&freed, sizeof(big), 0), 0);
    o.loop = coro_loop_at(1);
    CHECK_ERR(coro_spawn(&r, freed_big_receiver, arg, &o), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(test_slow_env() ? 100 : 5)), 0); /* r waits */
    h = test_spawn_on(1, hog, NULL);
    CHECK_ERR(coro_sleep(CORO_MSEC(test_slow_env() ? 50 : 5)), 0);
    CHECK_ERR(coro_chan_send(freed, &b), 0);
    CHECK_ERR(coro_chan_close(freed), 0);
    CHECK_ERR(coro_chan_free(freed), 0);
    CHECK_ERR(coro_await(r, NULL), 0);
    CHECK_ERR(coro_await(h, NULL), 0);
    return NULL;
}

TEST(a_copy_stack_task_woken_from_another_loop_copies_out_without_the_channel)
{
    static int select_case;

    CHECK_ERR(coro_run(freed_big_main, NULL, NULL, &two), 0);
    CHECK_ERR(coro_run(freed_big_main, &select_case, NULL, &two), 0);
}

/* During a deadlock's shutdown, a cleanup's select on a channel a task of
 * another loop waits on returns (that loop is freeing its tasks: they are
 * not served), and a copy-stack task of another loop parked with its
 * value's heap copy leaves no memory. */
static coro_chan *stuck;
static coro_event never = CORO_EVENT_INIT;
static int cleanup_rc = 1;

static void *stuck_receiver(void *arg)
{
    long v;

    (void)arg;
    return P(coro_chan_recv(stuck, &v));
}

static void select_in_cleanup(void *arg)
{
    long v = 1;
    coro_case c = {stuck, CORO_SEND, &v, 0};

    (void)arg;
    cleanup_rc = coro_try_select(&c, 1);
}

static void *defers_a_select(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(select_in_cleanup, NULL), 0);
    (void)coro_event_wait(&never);
    return NULL;
}

static void *stuck_main(void *arg)
{
    coro_task_options o = {NULL, 0, NULL, CORO_COPY_STACK, NULL};

    (void)arg;
    CHECK_ERR(coro_chan_open(&stuck, sizeof(long), 0), 0);
    o.loop = coro_loop_at(1);
    CHECK_ERR(coro_spawn(NULL, stuck_receiver, NULL, &o), 0); /* copy-stack, loop 1 */
    (void)test_spawn_on(1, stuck_receiver, NULL);
    (void)test_spawn_on(0, defers_a_select, NULL);
    return NULL;
}

TEST(a_deadlocks_shutdown_serves_no_other_loops_task_and_frees_every_copy)
{
    CHECK_ERR(coro_run(stuck_main, NULL, NULL, &two), CORO_EDEADLK);
    CHECK(cleanup_rc == CORO_EAGAIN || cleanup_rc == 0);
    CHECK_ERR(coro_chan_free(stuck), 0);
}

/* A try form in a coroutine a task resumed cannot wait for a handover: it
 * says so instead of suspending that coroutine. */
static coro_chan *nested_ch;
static int nested_rc = 1;

static void *nested(void *arg)
{
    long v = 7;

    (void)arg;
    nested_rc = coro_chan_try_send(nested_ch, &v);
    return NULL;
}

static void *resumes_a_coroutine(void *arg)
{
    coro *co;

    (void)arg;
    CHECK_ERR(coro_create(&co, nested, NULL), 0);
    CHECK_ERR(coro_resume(co, NULL, NULL), 0);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(nested_rc, CORO_ENOLOOP);
    CHECK_ERR(coro_destroy(co), 0);
    return NULL;
}

static void *nested_main(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_chan_open(&nested_ch, sizeof(long), 0), 0);
    CHECK_ERR(coro_await(test_spawn_on(1, resumes_a_coroutine, NULL), NULL), 0);
    CHECK_ERR(coro_chan_free(nested_ch), 0);
    return NULL;
}

TEST(a_try_form_in_a_coroutine_a_task_resumed_never_suspends_it)
{
    CHECK_ERR(coro_run(nested_main, NULL, NULL, &two), 0);
}
