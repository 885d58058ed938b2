/*
 * test_chan.c - channels and select, by Go's rules: every capacity, order,
 * close (wakes all, buffered values survive), FIFO among waiters, the try
 * and deadline forms, select's readiness, fairness and default case, one
 * channel twice in a select, and misuse.
 */
#include <pthread.h>
#include <stdlib.h>

#include "test.h"

static coro_run_options virt = {CORO_RUN_VIRTUAL_CLOCK, 0, 0, 0, 0, 0};

/* ---- every capacity ---- */

struct flow {
    coro_chan *ch;
    int n;
    int max_len;
};

static void *produce(void *arg)
{
    struct flow *f = arg;

    for (int i = 0; i < f->n; i++) {
        CHECK_ERR(coro_chan_send(f->ch, &i), 0);
        if ((int)coro_chan_len(f->ch) > f->max_len)
            f->max_len = (int)coro_chan_len(f->ch);
    }
    CHECK_ERR(coro_chan_close(f->ch), 0);
    return NULL;
}

static void *consume_in_order(void *arg)
{
    struct flow *f = arg;
    int v, next = 0, rc;

    CHECK_ERR(coro_spawn(NULL, produce, f, NULL), 0);
    while ((rc = coro_chan_recv(f->ch, &v)) == 0) {
        CHECK_INT(v, next);
        next++;
    }
    CHECK_ERR(rc, CORO_ECHCLOSED);
    CHECK_INT(next, f->n);
    CHECK_ERR(coro_chan_recv(f->ch, &v), CORO_ECHCLOSED); /* and stays so */
    return NULL;
}

static void *open_then_flow(void *arg)
{
    struct flow *f = arg;

    CHECK_ERR(coro_chan_open(&f->ch, sizeof(int), (size_t)f->max_len), 0);
    CHECK_INT(coro_chan_cap(f->ch), f->max_len);
    f->max_len = 0;
    consume_in_order(f);
    CHECK_ERR(coro_chan_free(f->ch), 0);
    return NULL;
}

TEST(values_arrive_in_order_and_backpressure_bounds_every_capacity)
{
    int caps[] = {0, 1, 2, 64};

    for (int i = 0; i < 4; i++) {
        struct flow f = {NULL, 500, caps[i]};
        CHECK_ERR(coro_run(open_then_flow, &f, NULL, NULL), 0);
        CHECK(f.max_len <= caps[i]);
        if (caps[i] > 0)
            CHECK_INT(f.max_len, caps[i]); /* the producer ran ahead as far as allowed */
    }
}

/* ---- close ---- */

static coro_chan *shared;
static int results[8];

static void *recv_into_result(void *arg)
{
    int v;

    results[N(arg)] = coro_chan_recv(shared, &v);
    return NULL;
}

static void *send_into_result(void *arg)
{
    int v = 1;

    results[N(arg)] = coro_chan_send(shared, &v);
    return NULL;
}

static void *close_wakes_all(void *arg)
{
    coro_task *t[6];
    int v = 0;

    (void)arg;
    CHECK_ERR(coro_chan_open(&shared, sizeof(int), 0), 0);
    for (long i = 0; i < 3; i++)
        CHECK_ERR(coro_spawn(&t[i], recv_into_result, P(i), NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_ERR(coro_chan_free(shared), CORO_EBUSY); /* they wait on it */
    CHECK_ERR(coro_chan_close(shared), 0);
    CHECK_ERR(coro_chan_close(shared), CORO_ECHCLOSED);
    CHECK_ERR(coro_chan_send(shared, &v), CORO_ECHCLOSED);
    CHECK_ERR(coro_chan_try_send(shared, &v), CORO_ECHCLOSED);
    for (int i = 0; i < 3; i++)
        CHECK_ERR(coro_await(t[i], NULL), 0);
    CHECK_ERR(coro_chan_free(shared), 0);

    /* Senders parked on a full buffer wake too. */
    CHECK_ERR(coro_chan_open(&shared, sizeof(int), 1), 0);
    CHECK_ERR(coro_chan_send(shared, &v), 0);
    for (long i = 3; i < 6; i++)
        CHECK_ERR(coro_spawn(&t[i], send_into_result, P(i), NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_ERR(coro_chan_close(shared), 0);
    for (int i = 3; i < 6; i++)
        CHECK_ERR(coro_await(t[i], NULL), 0);
    CHECK_ERR(coro_chan_recv(shared, &v), 0); /* the one buffered before close */
    CHECK_ERR(coro_chan_recv(shared, &v), CORO_ECHCLOSED);
    CHECK_ERR(coro_chan_free(shared), 0);
    return NULL;
}

TEST(close_wakes_every_waiter_and_refuses_sends)
{
    CHECK_ERR(coro_run(close_wakes_all, NULL, NULL, NULL), 0);
    for (int i = 0; i < 6; i++)
        CHECK_ERR(results[i], CORO_ECHCLOSED);
}

static void *drain_after_close(void *arg)
{
    coro_chan *ch;
    int v;

    (void)arg;
    CHECK_ERR(coro_chan_open(&ch, sizeof(int), 4), 0);
    for (int i = 10; i < 13; i++)
        CHECK_ERR(coro_chan_send(ch, &i), 0);
    CHECK_ERR(coro_chan_close(ch), 0);
    for (int i = 10; i < 13; i++) {
        CHECK_ERR(coro_chan_recv(ch, &v), 0);
        CHECK_INT(v, i);
    }
    CHECK_ERR(coro_chan_try_recv(ch, &v), CORO_ECHCLOSED);
    CHECK_ERR(coro_chan_free(ch), 0);
    return NULL;
}

TEST(buffered_values_survive_close)
{
    CHECK_ERR(coro_run(drain_after_close, NULL, NULL, NULL), 0);
}

/* ---- FIFO among waiters, try and deadline forms ---- */

static void *recv_log(void *arg)
{
    int v;
    char s[16];

    CHECK_ERR(coro_chan_recv(shared, &v), 0);
    snprintf(s, sizeof s, "r%ld=%d ", N(arg), v);
    log_add(s);
    return NULL;
}

static void *send_log(void *arg)
{
    int v = (int)N(arg);

    CHECK_ERR(coro_chan_send(shared, &v), 0);
    return NULL;
}

static void *fifo_waiters(void *arg)
{
    int v;

    (void)arg;
    CHECK_ERR(coro_chan_open(&shared, sizeof(int), 0), 0);
    for (long i = 0; i < 3; i++)
        CHECK_ERR(coro_spawn(NULL, recv_log, P(i), NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    for (v = 100; v < 103; v++)
        CHECK_ERR(coro_chan_send(shared, &v), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    log_add("| ");
    for (long i = 200; i < 203; i++)
        CHECK_ERR(coro_spawn(NULL, send_log, P(i), NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    for (int i = 200; i < 203; i++) {
        CHECK_ERR(coro_chan_recv(shared, &v), 0);
        CHECK_INT(v, i);
    }
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_ERR(coro_chan_free(shared), 0);
    return NULL;
}

TEST(waiting_receivers_and_senders_are_served_first_come_first_served)
{
    log_buf[0] = '\0';
    CHECK_ERR(coro_run(fifo_waiters, NULL, NULL, NULL), 0);
    CHECK_STR(log_buf, "r0=100 r1=101 r2=102 | ");
}

static void *try_and_deadline(void *arg)
{
    coro_chan *ch;
    int v = 5, out = 0;
    coro_time t0 = coro_now();

    (void)arg;
    CHECK_ERR(coro_chan_open(&ch, sizeof(int), 1), 0);
    CHECK_ERR(coro_chan_try_recv(ch, &out), CORO_EAGAIN);
    CHECK_ERR(coro_chan_try_send(ch, &v), 0);
    CHECK_ERR(coro_chan_try_send(ch, &v), CORO_EAGAIN);
    CHECK_ERR(coro_chan_send_until(ch, &v, coro_after(CORO_SEC(3))), CORO_ETIMEDOUT);
    CHECK_INT(coro_now() - t0, CORO_SEC(3));
    CHECK_ERR(coro_chan_send_until(ch, &v, t0), CORO_ETIMEDOUT); /* past: at once */
    CHECK_INT(coro_now() - t0, CORO_SEC(3));
    CHECK_ERR(coro_chan_try_recv(ch, &out), 0);
    CHECK_INT(out, 5);
    CHECK_ERR(coro_chan_recv_until(ch, &out, coro_after(CORO_MSEC(1))), CORO_ETIMEDOUT);
    CHECK_ERR(coro_chan_send_until(ch, &v, t0), 0); /* can complete: no timeout */
    CHECK_INT(coro_chan_len(ch), 1);
    CHECK_ERR(coro_chan_free(ch), 0);
    return NULL;
}

TEST(try_forms_never_wait_and_deadlines_time_out)
{
    CHECK_ERR(coro_run(try_and_deadline, NULL, NULL, &virt), 0);
}

struct big {
    char bytes[300];
};

static void *big_sender(void *arg)
{
    struct big b;

    memset(b.bytes, 'x', sizeof b.bytes);
    b.bytes[299] = (char)N(arg);
    CHECK_ERR(coro_chan_send(shared, &b), 0);
    return NULL;
}

static void *big_values(void *arg)
{
    struct big got;

    (void)arg;
    CHECK_ERR(coro_chan_open(&shared, sizeof(struct big), 0), 0);
    CHECK_ERR(coro_spawn(NULL, big_sender, P(7), NULL), 0);
    CHECK_ERR(coro_spawn(NULL, big_sender, P(8), NULL), 0);
    CHECK_ERR(coro_chan_recv(shared, &got), 0);
    CHECK_INT(got.bytes[0], 'x');
    CHECK_INT(got.bytes[299], 7);
    CHECK_ERR(coro_chan_recv(shared, &got), 0);
    CHECK_INT(got.bytes[299], 8);
    CHECK_ERR(coro_chan_free(shared), 0);
    return NULL;
}

TEST(values_of_any_size_are_copied_between_stacks)
{
    CHECK_ERR(coro_run(big_values, NULL, NULL, NULL), 0);
}

/* ---- select ---- */

static void *select_fair(void *arg)
{
    coro_chan *a, *b;
    int v = 1, x, counts[2] = {0, 0};
    coro_case c[2];

    (void)arg;
    CHECK_ERR(coro_chan_open(&a, sizeof(int), 1), 0);
    CHECK_ERR(coro_chan_open(&b, sizeof(int), 1), 0);
    for (int i = 0; i < 10000; i++) {
        coro_case r0 = CORO_CASE_RECV(a, &x), r1 = CORO_CASE_RECV(b, &x);
        int k;

        coro_chan_try_send(a, &v);
        coro_chan_try_send(b, &v);
        c[0] = r0;
        c[1] = r1;
        k = coro_try_select(c, 2);
        CHECK(k == 0 || k == 1); /* never the default while a case is ready */
        counts[k]++;
    }
    /* Binomial(10000, 1/2): sd 50; 4700..5300 is 6 sd. */
    CHECK(counts[0] > 4700 && counts[0] < 5300);
    CHECK_ERR(coro_chan_free(a), 0);
    CHECK_ERR(coro_chan_free(b), 0);
    return NULL;
}

TEST(select_chooses_fairly_among_ready_cases_and_never_the_default)
{
    CHECK_ERR(coro_run(select_fair, NULL, NULL, NULL), 0);
}

static void *select_uniform_among_scattered(void *arg)
{
    coro_chan *ch[4];
    int v = 1, x, counts[4] = {0, 0, 0, 0};

    (void)arg;
    for (int i = 0; i < 4; i++)
        CHECK_ERR(coro_chan_open(&ch[i], sizeof(int), 1), 0);
    for (int i = 0; i < 9000; i++) {
        coro_case c[4] = {CORO_CASE_RECV(ch[0], &x), CORO_CASE_RECV(ch[1], &x),
                          CORO_CASE_RECV(ch[2], &x), CORO_CASE_RECV(ch[3], &x)};
        int k;

        coro_chan_try_send(ch[0], &v); /* cases 0, 1, 3 ready; 2 never */
        coro_chan_try_send(ch[1], &v);
        coro_chan_try_send(ch[3], &v);
        k = coro_try_select(c, 4);
        CHECK(k >= 0 && k != 2);
        counts[k]++;
    }
    /* A random start plus a scan would give case 3 half the picks. */
    for (int k = 0; k < 4; k += (k == 1 ? 2 : 1))
        CHECK(counts[k] > 2700 && counts[k] < 3300);
    for (int i = 0; i < 4; i++)
        CHECK_ERR(coro_chan_free(ch[i]), 0);
    return NULL;
}

TEST(select_is_uniform_even_when_ready_cases_are_not_adjacent)
{
    CHECK_ERR(coro_run(select_uniform_among_scattered, NULL, NULL, NULL), 0);
}

static void *send_later(void *arg)
{
    int v = (int)N(arg);

    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    CHECK_ERR(coro_chan_send(shared, &v), 0);
    return NULL;
}

static void *select_same_channel_twice(void *arg)
{
    int x = 0, y = 0, seen[2] = {0, 0};

    (void)arg;
    CHECK_ERR(coro_chan_open(&shared, sizeof(int), 0), 0);
    for (int i = 0; i < 200; i++) {
        coro_case c[2] = {CORO_CASE_RECV(shared, &x), CORO_CASE_RECV(shared, &y)};
        int k;

        x = y = 0;
        CHECK_ERR(coro_spawn(NULL, send_later, P(i + 1), NULL), 0);
        k = coro_select(c, 2);
        CHECK(k == 0 || k == 1);
        CHECK_INT(k == 0 ? x : y, i + 1);
        CHECK_INT(k == 0 ? y : x, 0); /* exactly one case took it */
        seen[k]++;
    }
    CHECK(seen[0] > 0 && seen[1] > 0);
    CHECK_ERR(coro_try_select((coro_case[]){CORO_CASE_RECV(shared, &x)}, 1), CORO_EAGAIN);
    CHECK_ERR(coro_chan_free(shared), 0);
    return NULL;
}

TEST(one_channel_may_appear_twice_in_a_select)
{
    CHECK_ERR(coro_run(select_same_channel_twice, NULL, NULL, &virt), 0);
}

static void *recv_one(void *arg)
{
    int v;

    (void)arg;
    CHECK_ERR(coro_chan_recv(shared, &v), 0);
    return P(v);
}

static void *select_blocking(void *arg)
{
    coro_chan *other;
    int x = -1, out = 99, many[6];
    coro_task *t;
    void *got;
    coro_case c[2];

    (void)arg;
    CHECK_ERR(coro_chan_open(&shared, sizeof(int), 0), 0);
    CHECK_ERR(coro_chan_open(&other, sizeof(int), 0), 0);

    /* A parked select woken by a sender on its second case. */
    c[0] = (coro_case)CORO_CASE_RECV(other, &x);
    c[1] = (coro_case)CORO_CASE_RECV(shared, &x);
    CHECK_ERR(coro_spawn(NULL, send_later, P(33), NULL), 0);
    CHECK_INT(coro_select(c, 2), 1);
    CHECK_INT(x, 33);
    CHECK_ERR(c[1].result, 0);

    /* A send case, taken by a receiver that comes later. */
    c[0] = (coro_case)CORO_CASE_RECV(other, &x);
    c[1] = (coro_case)CORO_CASE_SEND(shared, &out);
    CHECK_ERR(coro_spawn(&t, recv_one, NULL, NULL), 0);
    CHECK_INT(coro_select(c, 2), 1);
    CHECK_ERR(coro_await(t, &got), 0);
    CHECK_INT(N(got), 99);

    /* A deadline, then a closed channel (ready, with its result). */
    CHECK_ERR(coro_select_until(c, 2, coro_after(CORO_MSEC(2))), CORO_ETIMEDOUT);
    CHECK_ERR(coro_chan_close(other), 0);
    CHECK_INT(coro_select(c, 2), 0);
    CHECK_ERR(c[0].result, CORO_ECHCLOSED);

    /* More cases than fit in the task: waiters come from the heap. */
    {
        coro_case m[6];
        for (int i = 0; i < 6; i++)
            m[i] = (coro_case)CORO_CASE_RECV(shared, &many[i]);
        memset(many, 0, sizeof many);
        CHECK_ERR(coro_spawn(NULL, send_later, P(44), NULL), 0);
        int k = coro_select(m, 6);
        CHECK(k >= 0 && k < 6);
        CHECK_INT(many[k], 44);
    }
    CHECK_ERR(coro_chan_free(shared), 0);
    CHECK_ERR(coro_chan_free(other), 0);
    return NULL;
}

TEST(select_waits_for_the_first_case_a_deadline_or_a_close)
{
    CHECK_ERR(coro_run(select_blocking, NULL, NULL, &virt), 0);
}

static void *select_misuse(void *arg)
{
    coro_chan *ch;
    int x;

    (void)arg;
    CHECK_ERR(coro_chan_open(&ch, sizeof(int), 0), 0);
    {
        coro_case ok = CORO_CASE_RECV(ch, &x), nodata = CORO_CASE_RECV(ch, NULL);
        coro_case badop = {ch, 7, &x, 0}, nochan = CORO_CASE_RECV(NULL, &x);
        CHECK_ERR(coro_select(NULL, 1), CORO_EINVAL);
        CHECK_ERR(coro_select(&ok, 0), CORO_EINVAL);
        CHECK_ERR(coro_select(&nodata, 1), CORO_EINVAL);
        CHECK_ERR(coro_select(&badop, 1), CORO_EINVAL);
        CHECK_ERR(coro_try_select(&nochan, 1), CORO_EINVAL);
        CHECK_ERR(coro_cancel(coro_task_self()), 0);
        CHECK_ERR(coro_select(&ok, 1), CORO_ECANCELED);
        CHECK_ERR(coro_try_select(&ok, 1), CORO_EAGAIN); /* never blocks: not a checkpoint */
    }
    CHECK_ERR(coro_chan_free(ch), 0);
    return NULL;
}

TEST(select_misuse_is_refused)
{
    CHECK_ERR(coro_run(select_misuse, NULL, NULL, NULL), 0);
}

/* ---- misuse ---- */

static void *chan_misuse(void *arg)
{
    coro_chan *ch = (coro_chan *)1;
    int v = 0;

    (void)arg;
    CHECK_ERR(coro_chan_open(&ch, 0, 4), CORO_EINVAL);
    CHECK_PTR(ch, NULL);
    CHECK_ERR(coro_chan_open(NULL, 4, 4), CORO_EINVAL);
    CHECK_ERR(coro_chan_open(&ch, (size_t)1 << 40, (size_t)1 << 40), CORO_EINVAL);
    CHECK_ERR(coro_chan_send(NULL, &v), CORO_EINVAL);
    CHECK_ERR(coro_chan_recv(NULL, &v), CORO_EINVAL);
    CHECK_ERR(coro_chan_close(NULL), CORO_EINVAL);
    CHECK_ERR(coro_chan_free(NULL), CORO_EINVAL);
    CHECK_ERR(coro_chan_open(&ch, sizeof v, 1), 0);
    CHECK_ERR(coro_chan_send(ch, NULL), CORO_EINVAL);
    CHECK_ERR(coro_chan_try_recv(ch, NULL), CORO_EINVAL);
    CHECK_INT(coro_chan_len(NULL), 0);
    CHECK_ERR(coro_chan_free(ch), 0);
    return NULL;
}

TEST(channel_misuse_is_refused)
{
    coro_chan *ch = NULL;
    int v = 0;

    CHECK_ERR(coro_chan_open(&ch, 4, 0), CORO_ENOLOOP);
    CHECK_ERR(coro_chan_recv(ch, &v), CORO_ENOLOOP);
    CHECK_ERR(coro_run(chan_misuse, NULL, NULL, NULL), 0);
}

/* ---- copy-stack tasks ---- */

static void *copy_receiver(void *arg)
{
    long mine[4] = {0, 0, 0, 0}; /* on the shared stack while it runs */
    coro_case c[2] = {CORO_CASE_RECV(shared, &mine[1]), CORO_CASE_RECV(shared, &mine[2])};
    int k;

    (void)arg;
    CHECK_ERR(coro_chan_recv(shared, &mine[0]), 0); /* delivered while switched out */
    k = coro_select(c, 2);
    CHECK(k == 0 || k == 1);
    return P(mine[0] * 1000 + mine[1 + k]);
}

static void *feed_copy_tasks(void *arg)
{
    coro_task_options copy = {"copy receiver", 0, NULL, CORO_COPY_STACK, NULL};
    coro_task *t[50];
    void *out;

    (void)arg;
    CHECK_ERR(coro_chan_open(&shared, sizeof(long), 0), 0);
    for (long i = 0; i < 50; i++)
        CHECK_ERR(coro_spawn(&t[i], copy_receiver, NULL, &copy), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* all parked, their stacks copied out */
    for (long round = 0; round < 2; round++)
        for (long i = 0; i < 50; i++) {
            long v = (round + 1) * 100 + i;
            CHECK_ERR(coro_chan_send(shared, &v), 0);
        }
    for (long i = 0; i < 50; i++) {
        CHECK_ERR(coro_await(t[i], &out), 0);
        CHECK_INT(N(out), (100 + i) * 1000 + 200 + i);
    }
    CHECK_ERR(coro_chan_free(shared), 0);
    return NULL;
}

TEST(values_reach_parked_copy_stack_tasks)
{
    CHECK_ERR(coro_run(feed_copy_tasks, NULL, NULL, NULL), 0);
}

/* ---- another thread ---- */

static int foreign_close_rc, foreign_free_rc, foreign_send_rc;

static void *close_from_thread(void *arg)
{
    int v = 1;

    (void)arg;
    foreign_send_rc = coro_chan_send(shared, &v);
    foreign_close_rc = coro_chan_close(shared);
    foreign_free_rc = coro_chan_free(shared);
    return NULL;
}

static void *foreign_closer(void *arg)
{
    pthread_t th;

    (void)arg;
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* the receiver waits */
    CHECK_INT(pthread_create(&th, NULL, close_from_thread, NULL), 0);
    CHECK_INT(pthread_join(th, NULL), 0);
    CHECK_ERR(coro_chan_close(shared), 0); /* its own thread may */
    return NULL;
}

static void *wait_on_shared(void *arg)
{
    int v;

    (void)arg;
    CHECK_ERR(coro_spawn(NULL, foreign_closer, NULL, NULL), 0);
    CHECK_ERR(coro_chan_recv(shared, &v), CORO_ECHCLOSED);
    return NULL;
}

static void *open_shared_then(void *arg)
{
    CHECK_ERR(coro_chan_open(&shared, sizeof(int), 0), 0);
    return wait_on_shared(arg);
}

TEST(another_thread_cannot_close_or_free_a_channel_tasks_wait_on)
{
    CHECK_ERR(coro_run(open_shared_then, NULL, NULL, NULL), 0);
    CHECK_ERR(foreign_send_rc, CORO_ENOLOOP);
    CHECK_ERR(foreign_close_rc, CORO_ETHREAD);
    CHECK_ERR(foreign_free_rc, CORO_ETHREAD);
    CHECK_ERR(coro_chan_free(shared), 0); /* nobody waits now: any thread may */
}
