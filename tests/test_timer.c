/*
 * test_timer.c - the loop's timer heap on its own: a million timers fire
 * in deadline order (ties in the order they were set), a cancel storm
 * removes half of them from anywhere in the heap, re-arming moves a timer,
 * and a failed growth leaves the heap as it was.
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
