/*
 * test_timer.c - the loop's timer heap on its own: a million timers fire
 * in deadline order (ties in the order they were set), a cancel storm
 * removes half of them from anywhere in the heap, re-arming moves a timer,
 * a failed growth leaves the heap as it was; lazily disarmed and re-armed
 * timers fire at their real deadlines, in order, and in a loop neither
 * delay a deadlock report nor fool the virtual clock.
 */
#include <stdlib.h>

#include "sched.h"
#include "test.h"

static coro__loop heap_owner;
static coro_time last_when;
static unsigned long long last_seq;
static long fired;
static int out_of_order;

static void record(coro__timer *tm)
{
    if (tm->when < last_when || (tm->when == last_when && tm->seq < last_seq))
        out_of_order++;
    last_when = tm->when;
    last_seq = tm->seq;
    fired++;
}

static void reset(void)
{
    memset(&heap_owner, 0, sizeof heap_owner);
    last_when = 0;
    last_seq = 0;
    fired = 0;
    out_of_order = 0;
}

TEST(a_million_timers_fire_in_order_and_a_cancel_storm_removes_half)
{
    /* Under valgrind and qemu a fifth of them: the same paths, in time. */
    const long MANY = test_slow_env() ? 200000 : 1000000;
    coro__timer *t = calloc((size_t)MANY, sizeof *t);
    unsigned long long x = 88172645463325252ULL;

    CHECK(t != NULL);
    reset();
    for (long i = 0; i < MANY; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t[i].fire = record;
        CHECK_ERR(
            coro__timer_add(&heap_owner, &t[i], (coro_time)(x % (unsigned long long)(MANY / 10))),
            0);
    }
    CHECK_INT(heap_owner.heap_len, MANY);
    for (long i = 0; i < MANY; i += 2) /* from everywhere in the heap */
        coro__timer_del(&heap_owner, &t[i]);
    for (long i = 0; i < MANY; i += 2)
        CHECK_INT(t[i].index, 0);
    coro__timer_fire_due(&heap_owner, MANY / 20);
    CHECK(fired > MANY / 4 - MANY / 200 && fired < MANY / 4 + MANY / 200);
    coro__timer_fire_due(&heap_owner, CORO_NEVER);
    CHECK_INT(fired, MANY / 2);
    CHECK_INT(out_of_order, 0);
    CHECK_INT(heap_owner.heap_len, 0);
    coro__timer_free_all(&heap_owner);
    free(t);
}

TEST(ties_fire_in_the_order_they_were_set_and_rearming_moves_a_timer)
{
    coro__timer t[50];

    reset();
    memset(t, 0, sizeof t);
    for (int i = 0; i < 50; i++) {
        t[i].fire = record;
        CHECK_ERR(coro__timer_add(&heap_owner, &t[i], 7), 0);
    }
    CHECK_ERR(coro__timer_add(&heap_owner, &t[0], 3), 0); /* re-armed: moved, not added */
    CHECK_INT(heap_owner.heap_len, 50);
    CHECK_PTR(coro__timer_first(&heap_owner), &t[0]);
    coro__timer_fire_due(&heap_owner, 2);
    CHECK_INT(fired, 0);
    coro__timer_fire_due(&heap_owner, 7);
    CHECK_INT(fired, 50);
    CHECK_INT(out_of_order, 0);
    coro__timer_del(&heap_owner, &t[3]); /* not armed: nothing */
    coro__timer_free_all(&heap_owner);
}

TEST(a_heap_that_cannot_grow_refuses_and_stays_intact)
{
    coro__timer t[65];

    reset();
    memset(t, 0, sizeof t);
    for (int i = 0; i < 64; i++) {
        t[i].fire = record;
        CHECK_ERR(coro__timer_add(&heap_owner, &t[i], 64 - i), 0);
    }
    t[64].fire = record;
    coro__fail_after(1);
    CHECK_ERR(coro__timer_add(&heap_owner, &t[64], 1), CORO_ENOMEM);
    coro__fail_after(0);
    CHECK_INT(t[64].index, 0);
    CHECK_INT(heap_owner.heap_len, 64);
    coro__timer_fire_due(&heap_owner, CORO_NEVER);
    CHECK_INT(fired, 64);
    CHECK_INT(out_of_order, 0);
    coro__timer_free_all(&heap_owner);
}

/* ---- lazy re-arming: a wait's timer is disarmed in O(1) and re-armed
 * in place when its new deadline is later ---- */

static char fired_flag[300];
static coro__timer lazy[300];

static void record_lazy(coro__timer *tm)
{
    record(tm);
    fired_flag[tm - lazy]++;
}

TEST(lazily_disarmed_and_rearmed_timers_fire_at_their_real_deadlines_in_order)
{
    enum { N = 300 };
    coro_time when[N];
    int live[N];
    unsigned long long x = 2463534242ULL;
    long want = 0;

    reset();
    memset(lazy, 0, sizeof lazy);
    memset(fired_flag, 0, sizeof fired_flag);
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        lazy[i].fire = record_lazy;
        when[i] = (coro_time)(x % 1000);
        live[i] = 1;
        CHECK_ERR(coro__timer_add(&heap_owner, &lazy[i], when[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        switch (i % 4) {
        case 0: /* disarmed: stays in the heap, dead, never fires */
            coro__timer_disarm(&heap_owner, &lazy[i]);
            live[i] = 0;
            break;
        case 1: /* re-armed later: in place, keeps its old key */
            when[i] += 500;
            CHECK_ERR(coro__timer_add(&heap_owner, &lazy[i], when[i]), 0);
            break;
        case 2: /* disarmed, then re-armed later: alive again */
            coro__timer_disarm(&heap_owner, &lazy[i]);
            when[i] += 250;
            CHECK_ERR(coro__timer_add(&heap_owner, &lazy[i], when[i]), 0);
            break;
        default: /* re-armed earlier: moved for real */
            when[i] /= 2;
            CHECK_ERR(coro__timer_add(&heap_owner, &lazy[i], when[i]), 0);
        }
        CHECK(coro__timer_armed(&lazy[i]) == live[i]);
        want += live[i];
    }
    CHECK_INT(heap_owner.heap_len, N); /* nothing left the heap yet */
    CHECK_INT(heap_owner.timers_live, want);
    for (coro_time now = 0; now < 2000; now += 7) {
        coro_time lower = coro__timer_next(&heap_owner, 0);
        coro_time first = coro__timer_next(&heap_owner, 1);

        CHECK(lower <= first); /* the cheap answer is never late */
        coro__timer_fire_due(&heap_owner, now);
        CHECK(coro__timer_next(&heap_owner, 1) > now); /* nothing due is left */
        for (int i = 0; i < N; i++)                    /* nothing fired early */
            CHECK(!fired_flag[i] || when[i] <= now);
    }
    for (int i = 0; i < N; i++)
        CHECK_INT(fired_flag[i], live[i]);
    CHECK_INT(fired, want);
    CHECK_INT(out_of_order, 0);
    CHECK_INT(heap_owner.timers_live, 0);
    CHECK(coro__timer_first(&heap_owner) == NULL); /* the dead are cleared out */
    CHECK_INT(heap_owner.heap_len, 0);
    coro__timer_free_all(&heap_owner);
}

TEST(ties_keep_their_order_when_one_of_them_was_rearmed_in_place)
{
    coro__timer a, b;

    reset();
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.fire = b.fire = record;
    CHECK_ERR(coro__timer_add(&heap_owner, &a, 10), 0);
    coro__timer_disarm(&heap_owner, &a);
    CHECK_ERR(coro__timer_add(&heap_owner, &b, 20), 0);
    CHECK_ERR(coro__timer_add(&heap_owner, &a, 20), 0); /* in place: key 10 */
    CHECK(a.key < a.when);
    CHECK_PTR(coro__timer_first(&heap_owner), &b); /* b was set first */
    coro__timer_fire_due(&heap_owner, 20);
    CHECK_INT(fired, 2);
    CHECK_INT(out_of_order, 0);
    coro__timer_free_all(&heap_owner);
}

/* ---- in a loop: waits that ended early leave no trace ---- */

static void *answer_once(void *arg)
{
    int v = 1;

    return (void *)(long)coro_chan_send(arg, &v);
}

static coro_chan *deadlock_ch;

static void *wait_then_deadlock(void *arg)
{
    coro_chan *ch;
    coro_task *t;
    int v;

    (void)arg;
    CHECK_ERR(coro_chan_open(&deadlock_ch, sizeof v, 0), 0);
    ch = deadlock_ch;
    CHECK_ERR(coro_spawn(&t, answer_once, ch, NULL), 0);
    /* Answered at once: its one-hour deadline is left dead in the heap. */
    CHECK_ERR(coro_chan_recv_until(ch, &v, coro_after(CORO_SEC(3600))), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    return (void *)(long)coro_chan_recv(ch, &v); /* nobody will send */
}

TEST(a_deadlock_after_waits_that_ended_early_is_reported_at_once)
{
    coro_run_options real = {0, 0, 0, 0, 0, 0};
    coro_time start = coro_now();

    CHECK_ERR(coro_run(wait_then_deadlock, NULL, NULL, &real), CORO_EDEADLK);
    CHECK(coro_now() - start < CORO_SEC(5)); /* not an hour */
    CHECK_ERR(coro_chan_free(deadlock_ch), 0);
}

static void *rearm_then_time_out(void *arg)
{
    coro_chan *ch;
    coro_task *t;
    coro_time start = coro_now();
    int v;

    (void)arg;
    CHECK_ERR(coro_chan_open(&ch, sizeof v, 0), 0);
    CHECK_ERR(coro_spawn(&t, answer_once, ch, NULL), 0);
    CHECK_ERR(coro_chan_recv_until(ch, &v, start + CORO_SEC(10)), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    /* The same timer, re-armed in place at 20 s while its slot says 10 s:
     * the virtual clock must land on 20 s exactly. */
    CHECK_ERR(coro_chan_recv_until(ch, &v, start + CORO_SEC(20)), CORO_ETIMEDOUT);
    CHECK(coro_now() == start + CORO_SEC(20));
    CHECK_ERR(coro_chan_free(ch), 0);
    return NULL;
}

TEST(a_virtual_clock_lands_on_a_rearmed_deadline_not_on_its_old_slot)
{
    coro_run_options virt = {CORO_RUN_VIRTUAL_CLOCK, 0, 0, 0, 0, 0};

    CHECK_ERR(coro_run(rearm_then_time_out, NULL, NULL, &virt), 0);
}
