/*
 * test_sync.c - mutex, semaphore, wait group and event: FIFO handoff (no
 * barging), the try forms, deadlines on the virtual clock, cancellation of
 * a waiter, static initialisers, and misuse (NULL, outside a loop, unlock
 * by a task that does not hold the lock).
 *
 * Everything the tasks share is static: in a STACK=copy build every task
 * is a copy-stack coroutine, so no task may touch another task's locals.
 */
#include <limits.h>

#include "test.h"

static coro_run_options virt = {CORO_RUN_VIRTUAL_CLOCK, 0, 0, 0, 0, 0};

/* ======================================================================
 * mutex
 * ====================================================================== */

static coro_mutex mu = CORO_MUTEX_INIT;

/* Takes mu, logs its name, holds it a while, lets go. */
static void *lock_log_unlock(void *arg)
{
    CHECK_ERR(coro_mutex_lock(&mu), 0);
    CHECK_PTR(mu.holder, coro_task_self());
    log_add(arg);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    return NULL;
}

static void *mutex_fifo_main(void *arg)
{
    coro_task *t[3];

    (void)arg;
    CHECK_ERR(coro_mutex_lock(&mu), 0);
    CHECK_ERR(coro_spawn(&t[0], lock_log_unlock, "A ", NULL), 0);
    CHECK_ERR(coro_spawn(&t[1], lock_log_unlock, "B ", NULL), 0);
    CHECK_ERR(coro_spawn(&t[2], lock_log_unlock, "C ", NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0); /* all three queue up */
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    /* The lock went straight to A: the unlocker cannot take it back. */
    CHECK_PTR(mu.holder, t[0]);
    CHECK_ERR(coro_mutex_trylock(&mu), CORO_EBUSY);
    /* Queued behind B and C, who were waiting before. */
    CHECK_ERR(coro_mutex_lock(&mu), 0);
    log_add("main ");
    CHECK_INT(coro_now(), CORO_MSEC(4));
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    CHECK_PTR(mu.holder, NULL);
    for (int i = 0; i < 3; i++)
        CHECK_ERR(coro_await(t[i], NULL), 0);
    return NULL;
}

TEST(mutex_hands_off_to_waiters_in_fifo_order)
{
    log_buf[0] = '\0';
    CHECK_ERR(coro_run(mutex_fifo_main, NULL, NULL, &virt), 0);
    CHECK_STR(log_buf, "A B C main ");
}

static int other_rc[4];

static void *try_and_unlock_held(void *arg)
{
    (void)arg;
    other_rc[0] = coro_mutex_trylock(&mu);
    other_rc[1] = coro_mutex_unlock(&mu); /* held by main */
    return NULL;
}

static void *mutex_busy_main(void *arg)
{
    coro_task *t;

    (void)arg;
    CHECK_ERR(coro_mutex_unlock(&mu), CORO_EPERM); /* nobody holds it */
    CHECK_ERR(coro_mutex_trylock(&mu), 0);
    CHECK_PTR(mu.holder, coro_task_self());
    /* Not recursive: the holder's own attempts are refused at once. */
    CHECK_ERR(coro_mutex_trylock(&mu), CORO_EBUSY);
    CHECK_ERR(coro_mutex_lock(&mu), CORO_EBUSY);
    CHECK_ERR(coro_mutex_lock_until(&mu, coro_after(CORO_SEC(1))), CORO_EBUSY);
    CHECK_INT(coro_now(), 0);
    CHECK_ERR(coro_spawn(&t, try_and_unlock_held, NULL, NULL), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    CHECK_ERR(other_rc[0], CORO_EBUSY);
    CHECK_ERR(other_rc[1], CORO_EPERM);
    CHECK_PTR(mu.holder, coro_task_self()); /* still ours */
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    CHECK_ERR(coro_mutex_unlock(&mu), CORO_EPERM); /* twice */
    CHECK_PTR(mu.holder, NULL);
    return NULL;
}

TEST(mutex_trylock_relock_and_foreign_unlock_are_refused)
{
    CHECK_ERR(coro_run(mutex_busy_main, NULL, NULL, &virt), 0);
}

static void *lock_with_deadline(void *arg)
{
    (void)arg;
    other_rc[0] = coro_mutex_lock_until(&mu, coro_after(CORO_MSEC(50)));
    other_rc[1] = (int)(coro_now() / CORO_MSEC(1));
    other_rc[2] = mu.holder == coro_task_self();
    /* A deadline already passed times out at once, without waiting. */
    other_rc[3] = coro_mutex_lock_until(&mu, coro_now() - 1);
    CHECK_INT(coro_now(), CORO_MSEC(50));
    CHECK_ERR(coro_mutex_lock_until(&mu, 0), CORO_ETIMEDOUT);
    CHECK_INT(coro_now(), CORO_MSEC(50));
    return NULL;
}

static void *mutex_deadline_main(void *arg)
{
    coro_task *t;

    (void)arg;
    /* A free mutex is taken even with a deadline that has passed. */
    CHECK_ERR(coro_mutex_lock_until(&mu, coro_now() - 1), 0);
    CHECK_ERR(coro_spawn(&t, lock_with_deadline, NULL, NULL), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    CHECK_ERR(other_rc[0], CORO_ETIMEDOUT);
    CHECK_INT(other_rc[1], 50);
    CHECK_INT(other_rc[2], 0);
    CHECK_ERR(other_rc[3], CORO_ETIMEDOUT);
    CHECK_PTR(mu.holder, coro_task_self());
    CHECK_PTR(mu.q.first, NULL); /* the timed-out waiter left the queue */
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    CHECK_PTR(mu.holder, NULL);
    return NULL;
}

TEST(mutex_lock_until_times_out_and_a_past_deadline_at_once)
{
    CHECK_ERR(coro_run(mutex_deadline_main, NULL, NULL, &virt), 0);
}

static int canceled_rc, canceled_again_rc, canceled_held;

static void *lock_then_canceled(void *arg)
{
    (void)arg;
    canceled_rc = coro_mutex_lock(&mu);
    canceled_held = mu.holder == coro_task_self();
    /* Canceled: a lock that would wait fails at once. */
    canceled_again_rc = coro_mutex_lock(&mu);
    return NULL;
}

static void *lock_and_log(void *arg)
{
    CHECK_ERR(coro_mutex_lock(&mu), 0);
    log_add(arg);
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    return NULL;
}

static void *mutex_cancel_main(void *arg)
{
    coro_task *a, *b;

    (void)arg;
    CHECK_ERR(coro_mutex_lock(&mu), 0);
    CHECK_ERR(coro_spawn(&a, lock_then_canceled, NULL, NULL), 0);
    CHECK_ERR(coro_spawn(&b, lock_and_log, "B ", NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0); /* a, then b, wait */
    CHECK_ERR(coro_cancel(a), 0);
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    CHECK_PTR(mu.holder, b); /* skipped the canceled waiter */
    CHECK_ERR(coro_await(a, NULL), CORO_ETASKCANCELED);
    CHECK_ERR(coro_await(b, NULL), 0);
    CHECK_ERR(canceled_rc, CORO_ECANCELED);
    CHECK_INT(canceled_held, 0);
    CHECK_ERR(canceled_again_rc, CORO_ECANCELED);
    CHECK_PTR(mu.holder, NULL);
    CHECK_PTR(mu.q.first, NULL);
    CHECK_PTR(mu.q.last, NULL);
    return NULL;
}

TEST(mutex_canceled_waiter_gets_canceled_and_not_the_lock)
{
    log_buf[0] = '\0';
    CHECK_ERR(coro_run(mutex_cancel_main, NULL, NULL, &virt), 0);
    CHECK_STR(log_buf, "B ");
}

/* A mutex inside a struct, zero-initialised, and a static one. */
static struct counter {
    long before;
    coro_mutex m;
    long value;
    int inside;
} counter;

static coro_mutex static_mu = CORO_MUTEX_INIT;

static void *increment(void *arg)
{
    for (int i = 0; i < 10; i++) {
        CHECK_ERR(coro_mutex_lock(&counter.m), 0);
        CHECK_INT(counter.inside, 0); /* nobody else in here */
        counter.inside = 1;
        long v = counter.value;
        CHECK_ERR(coro_yield(NULL, NULL), 0); /* let the others try */
        counter.value = v + 1;
        counter.inside = 0;
        CHECK_ERR(coro_mutex_unlock(&counter.m), 0);
    }
    CHECK_ERR(coro_mutex_lock(&static_mu), 0);
    CHECK_ERR(coro_sleep(N(arg)), 0);
    CHECK_ERR(coro_mutex_unlock(&static_mu), 0);
    return NULL;
}

static void *struct_mutex_main(void *arg)
{
    (void)arg;
    for (int i = 1; i <= 4; i++)
        CHECK_ERR(coro_spawn(NULL, increment, P(CORO_MSEC(i)), NULL), 0);
    return NULL;
}

TEST(mutex_statically_initialised_and_inside_a_struct)
{
    coro_mutex m;

    counter.before = 1;
    CHECK_ERR(coro_run(struct_mutex_main, NULL, NULL, &virt), 0);
    CHECK_INT(counter.value, 40);
    CHECK_INT(counter.before, 1);
    CHECK_PTR(counter.m.holder, NULL);
    CHECK_PTR(static_mu.holder, NULL);
    CHECK_PTR(static_mu.q.first, NULL);
    /* coro_mutex_init is the same as the initialiser. */
    memset(&m, 0xff, sizeof m);
    coro_mutex_init(&m);
    CHECK_PTR(m.holder, NULL);
    CHECK_PTR(m.q.first, NULL);
    CHECK_PTR(m.q.last, NULL);
    coro_mutex_init(NULL); /* nothing */
}

/* ======================================================================
 * semaphore
 * ====================================================================== */

static coro_sem sem = CORO_SEM_INIT(2);

static void *acquire_log(void *arg)
{
    CHECK_ERR(coro_sem_acquire(&sem), 0);
    log_add(arg);
    return NULL;
}

static void *sem_main(void *arg)
{
    coro_task *t[3];

    (void)arg;
    CHECK_INT(sem.count, 2);
    CHECK_ERR(coro_sem_tryacquire(&sem), 0);
    CHECK_ERR(coro_sem_acquire(&sem), 0);
    CHECK_INT(sem.count, 0);
    CHECK_ERR(coro_sem_tryacquire(&sem), CORO_EAGAIN);
    CHECK_ERR(coro_sem_acquire_until(&sem, coro_after(CORO_MSEC(5))), CORO_ETIMEDOUT);
    CHECK_INT(coro_now(), CORO_MSEC(5));
    CHECK_ERR(coro_sem_acquire_until(&sem, coro_now() - 1), CORO_ETIMEDOUT);
    CHECK_INT(coro_now(), CORO_MSEC(5));
    CHECK_INT(sem.count, 0);

    CHECK_ERR(coro_spawn(&t[0], acquire_log, "A ", NULL), 0);
    CHECK_ERR(coro_spawn(&t[1], acquire_log, "B ", NULL), 0);
    CHECK_ERR(coro_spawn(&t[2], acquire_log, "C ", NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* all three wait, in order */
    CHECK_STR(log_buf, "");
    for (int i = 0; i < 3; i++) {
        CHECK_ERR(coro_sem_release(&sem), 0);
        /* The permit went to the first waiter, not to the count: the
         * releaser cannot take it back. */
        CHECK_INT(sem.count, 0);
        CHECK_ERR(coro_sem_tryacquire(&sem), CORO_EAGAIN);
        CHECK_ERR(coro_await(t[i], NULL), 0);
    }
    CHECK_STR(log_buf, "A B C ");
    CHECK_PTR(sem.q.first, NULL);
    /* No waiters: permits pile up in the count. */
    CHECK_ERR(coro_sem_release(&sem), 0);
    CHECK_ERR(coro_sem_release(&sem), 0);
    CHECK_INT(sem.count, 2);
    return NULL;
}

TEST(semaphore_counts_serves_waiters_fifo_and_hands_permits_over)
{
    log_buf[0] = '\0';
    CHECK_ERR(coro_run(sem_main, NULL, NULL, &virt), 0);
    CHECK_INT(sem.count, 2);
}

static void *sem_canceled_waiter(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_sem_acquire(&sem), CORO_ECANCELED);
    return NULL;
}

static void *sem_cancel_main(void *arg)
{
    coro_task *a, *b;

    (void)arg;
    CHECK_ERR(coro_sem_init(&sem, 0), 0);
    CHECK_ERR(coro_spawn(&a, sem_canceled_waiter, NULL, NULL), 0);
    CHECK_ERR(coro_spawn(&b, acquire_log, "B ", NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_ERR(coro_cancel(a), 0);
    CHECK_ERR(coro_sem_release(&sem), 0); /* to b, past the canceled a */
    CHECK_INT(sem.count, 0);
    CHECK_ERR(coro_await(a, NULL), CORO_ETASKCANCELED);
    CHECK_ERR(coro_await(b, NULL), 0);
    CHECK_INT(sem.count, 0);
    CHECK_PTR(sem.q.first, NULL);
    return NULL;
}

TEST(semaphore_canceled_waiter_does_not_take_a_permit)
{
    log_buf[0] = '\0';
    CHECK_ERR(coro_run(sem_cancel_main, NULL, NULL, &virt), 0);
    CHECK_STR(log_buf, "B ");
}

TEST(semaphore_init_refuses_a_negative_count)
{
    coro_sem s = CORO_SEM_INIT(3);

    CHECK_ERR(coro_sem_init(&s, -1), CORO_EINVAL);
    CHECK_INT(s.count, 3); /* unchanged */
    CHECK_ERR(coro_sem_init(&s, LONG_MIN), CORO_EINVAL);
    CHECK_INT(s.count, 3);
    CHECK_ERR(coro_sem_init(&s, 0), 0);
    CHECK_INT(s.count, 0);
    CHECK_ERR(coro_sem_init(&s, 5), 0);
    CHECK_INT(s.count, 5);
    CHECK_PTR(s.q.first, NULL);
    CHECK_ERR(coro_sem_init(NULL, 1), CORO_EINVAL);
}

/* ======================================================================
 * wait group
 * ====================================================================== */

static coro_wg wg = CORO_WG_INIT;
static int workers_done;

static void *worker(void *arg)
{
    CHECK_ERR(coro_sleep(N(arg)), 0);
    workers_done++;
    CHECK_ERR(coro_wg_done(&wg), 0);
    return NULL;
}

static void *wg_waiter(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_wg_wait(&wg), 0);
    CHECK_INT(workers_done, 3);
    CHECK_INT(coro_now(), CORO_MSEC(30));
    log_add("w ");
    return NULL;
}

static void *wg_main(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_wg_wait(&wg), 0); /* count 0: at once */
    CHECK_INT(coro_now(), 0);
    CHECK_ERR(coro_wg_add(&wg, 3), 0);
    CHECK_INT(wg.count, 3);
    for (int i = 1; i <= 3; i++)
        CHECK_ERR(coro_spawn(NULL, worker, P(CORO_MSEC(10 * i)), NULL), 0);
    for (int i = 0; i < 5; i++)
        CHECK_ERR(coro_spawn(NULL, wg_waiter, NULL, NULL), 0);
    CHECK_ERR(coro_wg_wait_until(&wg, coro_after(CORO_MSEC(15))), CORO_ETIMEDOUT);
    CHECK_INT(workers_done, 1);
    CHECK_ERR(coro_wg_wait_until(&wg, coro_now() - 1), CORO_ETIMEDOUT);
    CHECK_ERR(coro_wg_wait(&wg), 0);
    CHECK_INT(workers_done, 3);
    CHECK_INT(coro_now(), CORO_MSEC(30));
    CHECK_INT(wg.count, 0);
    CHECK_ERR(coro_wg_wait_until(&wg, coro_now() - 1), 0); /* can complete at once */
    return NULL;
}

TEST(wait_group_wakes_every_waiter_when_the_count_drops_to_zero)
{
    log_buf[0] = '\0';
    CHECK_ERR(coro_run(wg_main, NULL, NULL, &virt), 0);
    CHECK_STR(log_buf, "w w w w w ");
    CHECK_PTR(wg.q.first, NULL);
}

TEST(wait_group_refuses_a_negative_count_and_changes_nothing)
{
    coro_wg g = CORO_WG_INIT;

    CHECK_ERR(coro_wg_done(&g), CORO_EINVAL);
    CHECK_INT(g.count, 0);
    CHECK_ERR(coro_wg_add(&g, 2), 0);
    CHECK_ERR(coro_wg_add(&g, -3), CORO_EINVAL);
    CHECK_INT(g.count, 2);
    CHECK_ERR(coro_wg_add(&g, LONG_MIN), CORO_EINVAL);
    CHECK_INT(g.count, 2);
    CHECK_ERR(coro_wg_add(&g, 0), 0);
    CHECK_INT(g.count, 2);
    CHECK_ERR(coro_wg_add(&g, -2), 0);
    CHECK_INT(g.count, 0);
    CHECK_ERR(coro_wg_done(&g), CORO_EINVAL);
    CHECK_INT(g.count, 0);
    memset(&g, 0xff, sizeof g);
    coro_wg_init(&g);
    CHECK_INT(g.count, 0);
    CHECK_PTR(g.q.first, NULL);
    coro_wg_init(NULL);
}

/* ======================================================================
 * event
 * ====================================================================== */

static coro_event ev = CORO_EVENT_INIT;

static void *event_waiter(void *arg)
{
    CHECK_ERR(coro_event_wait(&ev), 0);
    CHECK_INT(coro_now(), CORO_MSEC(10));
    log_add(arg);
    return NULL;
}

static void *event_main(void *arg)
{
    (void)arg;
    CHECK_INT(coro_event_is_set(&ev), 0);
    CHECK_ERR(coro_spawn(NULL, event_waiter, "1 ", NULL), 0);
    CHECK_ERR(coro_spawn(NULL, event_waiter, "2 ", NULL), 0);
    CHECK_ERR(coro_spawn(NULL, event_waiter, "3 ", NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(10)), 0);
    CHECK_STR(log_buf, "");
    CHECK_ERR(coro_event_set(&ev), 0);
    CHECK_INT(coro_event_is_set(&ev), 1);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_STR(log_buf, "1 2 3 ");
    CHECK_PTR(ev.q.first, NULL);
    /* Set: a wait returns at once, even with a past deadline; set again is
     * harmless. */
    CHECK_ERR(coro_event_wait(&ev), 0);
    CHECK_ERR(coro_event_wait_until(&ev, coro_now() - 1), 0);
    CHECK_ERR(coro_event_set(&ev), 0);
    CHECK_INT(coro_now(), CORO_MSEC(10));
    /* Cleared: waits again. */
    CHECK_ERR(coro_event_clear(&ev), 0);
    CHECK_INT(coro_event_is_set(&ev), 0);
    CHECK_ERR(coro_event_wait_until(&ev, coro_after(CORO_MSEC(5))), CORO_ETIMEDOUT);
    CHECK_INT(coro_now(), CORO_MSEC(15));
    CHECK_ERR(coro_event_wait_until(&ev, coro_now() - 1), CORO_ETIMEDOUT);
    CHECK_ERR(coro_event_clear(&ev), 0); /* clear again is harmless */
    CHECK_PTR(ev.q.first, NULL);
    return NULL;
}

TEST(event_set_wakes_every_waiter_and_clear_makes_them_wait)
{
    coro_event e;

    log_buf[0] = '\0';
    CHECK_ERR(coro_run(event_main, NULL, NULL, &virt), 0);
    CHECK_STR(log_buf, "1 2 3 ");
    memset(&e, 0xff, sizeof e);
    coro_event_init(&e);
    CHECK_INT(e.set, 0);
    CHECK_PTR(e.q.first, NULL);
    coro_event_init(NULL);
}

static void *event_canceled_waiter(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_event_wait(&ev), CORO_ECANCELED);
    CHECK_ERR(coro_event_wait(&ev), CORO_ECANCELED); /* and every later one */
    return NULL;
}

static void *event_cancel_main(void *arg)
{
    coro_task *t;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, event_canceled_waiter, NULL, NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_await(t, NULL), CORO_ETASKCANCELED);
    CHECK_PTR(ev.q.first, NULL);
    CHECK_INT(coro_event_is_set(&ev), 0);
    return NULL;
}

TEST(event_canceled_waiter_leaves_the_queue)
{
    CHECK_ERR(coro_run(event_cancel_main, NULL, NULL, &virt), 0);
}

/* ======================================================================
 * misuse
 * ====================================================================== */

static coro_mutex held_outside = CORO_MUTEX_INIT;

static void check_every_blocking_call_refused(void)
{
    coro_mutex m = CORO_MUTEX_INIT;
    coro_sem s = CORO_SEM_INIT(1);
    coro_wg g = CORO_WG_INIT;
    coro_event e = CORO_EVENT_INIT;

    CHECK_ERR(coro_mutex_lock(&m), CORO_ENOLOOP);
    CHECK_ERR(coro_mutex_lock_until(&m, CORO_NEVER), CORO_ENOLOOP);
    CHECK_ERR(coro_mutex_trylock(&m), CORO_ENOLOOP);
    CHECK_PTR(m.holder, NULL);
    CHECK_ERR(coro_mutex_unlock(&held_outside), CORO_EPERM);
    CHECK_ERR(coro_sem_acquire(&s), CORO_ENOLOOP);
    CHECK_ERR(coro_sem_acquire_until(&s, CORO_NEVER), CORO_ENOLOOP);
    CHECK_ERR(coro_sem_tryacquire(&s), CORO_ENOLOOP);
    CHECK_INT(s.count, 1);
    CHECK_ERR(coro_wg_wait(&g), CORO_ENOLOOP);
    CHECK_ERR(coro_wg_wait_until(&g, CORO_NEVER), CORO_ENOLOOP);
    CHECK_ERR(coro_event_wait(&e), CORO_ENOLOOP);
    CHECK_ERR(coro_event_wait_until(&e, CORO_NEVER), CORO_ENOLOOP);
    /* NULL too: the loop is checked first. */
    CHECK_ERR(coro_mutex_lock(NULL), CORO_ENOLOOP);
    CHECK_ERR(coro_sem_acquire(NULL), CORO_ENOLOOP);
    CHECK_ERR(coro_wg_wait(NULL), CORO_ENOLOOP);
    CHECK_ERR(coro_event_wait(NULL), CORO_ENOLOOP);
}

static void *in_plain_coroutine(void *arg)
{
    (void)arg;
    check_every_blocking_call_refused();
    return NULL;
}

static void *plain_coroutine_main(void *arg)
{
    coro *co;

    (void)arg;
    /* A coroutine the task resumes is not a task. */
    CHECK_ERR(coro_create(&co, in_plain_coroutine, NULL), 0);
    CHECK_ERR(coro_resume(co, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
    return NULL;
}

TEST(sync_blocking_calls_outside_a_task_are_refused)
{
    /* Not in a loop at all. */
    check_every_blocking_call_refused();
    /* In a loop, but not in one of its tasks. */
    CHECK_ERR(coro_run(plain_coroutine_main, NULL, NULL, &virt), 0);
}

static void *null_main(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_mutex_lock(NULL), CORO_EINVAL);
    CHECK_ERR(coro_mutex_lock_until(NULL, coro_now() - 1), CORO_EINVAL);
    CHECK_ERR(coro_mutex_trylock(NULL), CORO_EINVAL);
    CHECK_ERR(coro_mutex_unlock(NULL), CORO_EINVAL);
    CHECK_ERR(coro_sem_acquire(NULL), CORO_EINVAL);
    CHECK_ERR(coro_sem_acquire_until(NULL, coro_now() - 1), CORO_EINVAL);
    CHECK_ERR(coro_sem_tryacquire(NULL), CORO_EINVAL);
    CHECK_ERR(coro_sem_release(NULL), CORO_EINVAL);
    CHECK_ERR(coro_sem_init(NULL, 0), CORO_EINVAL);
    CHECK_ERR(coro_wg_add(NULL, 1), CORO_EINVAL);
    CHECK_ERR(coro_wg_done(NULL), CORO_EINVAL);
    CHECK_ERR(coro_wg_wait(NULL), CORO_EINVAL);
    CHECK_ERR(coro_wg_wait_until(NULL, coro_now() - 1), CORO_EINVAL);
    CHECK_ERR(coro_event_set(NULL), CORO_EINVAL);
    CHECK_ERR(coro_event_clear(NULL), CORO_EINVAL);
    CHECK_INT(coro_event_is_set(NULL), 0);
    CHECK_ERR(coro_event_wait(NULL), CORO_EINVAL);
    CHECK_ERR(coro_event_wait_until(NULL, coro_now() - 1), CORO_EINVAL);
    CHECK_INT(coro_now(), 0);
    return NULL;
}

TEST(sync_calls_refuse_null)
{
    CHECK_ERR(coro_run(null_main, NULL, NULL, &virt), 0);
    /* The ones that never suspend refuse NULL outside a loop too. */
    CHECK_ERR(coro_mutex_unlock(NULL), CORO_EINVAL);
    CHECK_ERR(coro_sem_release(NULL), CORO_EINVAL);
    CHECK_ERR(coro_wg_add(NULL, 1), CORO_EINVAL);
    CHECK_ERR(coro_event_set(NULL), CORO_EINVAL);
    CHECK_ERR(coro_event_clear(NULL), CORO_EINVAL);
}

static void *canceled_self_main(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_mutex_lock(&mu), 0);
    CHECK_ERR(coro_sem_init(&sem, 0), 0);
    CHECK_ERR(coro_wg_add(&wg, 1), 0);
    CHECK_ERR(coro_cancel(coro_task_self()), 0);
    /* Every call that would wait fails at once with the cancellation. */
    CHECK_ERR(coro_sem_acquire(&sem), CORO_ECANCELED);
    CHECK_ERR(coro_sem_acquire_until(&sem, coro_after(CORO_SEC(1))), CORO_ECANCELED);
    CHECK_ERR(coro_wg_wait(&wg), CORO_ECANCELED);
    CHECK_ERR(coro_event_wait(&ev), CORO_ECANCELED);
    CHECK_ERR(coro_sleep(CORO_SEC(1)), CORO_ECANCELED);
    CHECK_INT(coro_now(), 0);
    /* The try forms still answer what they would. */
    CHECK_ERR(coro_sem_tryacquire(&sem), CORO_EAGAIN);
    CHECK_ERR(coro_mutex_trylock(&mu), CORO_EBUSY);
    /* Unlocking never blocks: a canceled task can let go. */
    CHECK_ERR(coro_mutex_unlock(&mu), 0);
    CHECK_ERR(coro_wg_done(&wg), 0);
    CHECK_PTR(sem.q.first, NULL);
    CHECK_PTR(wg.q.first, NULL);
    CHECK_PTR(ev.q.first, NULL);
    return NULL;
}

TEST(a_canceled_task_cannot_wait_on_anything)
{
    CHECK_ERR(coro_run(canceled_self_main, NULL, NULL, &virt), 0);
}
