/*
 * sync.c - mutex, semaphore, wait group and event: plain structs in the
 * caller's storage (zero or the static initialisers are ready to use),
 * each a value plus a FIFO queue of parked tasks.
 *
 * Design. Ownership passes directly to the first waiter (a mutex unlock
 * makes the waiter the holder, a semaphore release gives the permit to the
 * waiter, not to the count), so a task that arrives later cannot barge in
 * ahead of one that waited: FIFO fairness, no starvation. All of it runs on
 * the loop's thread, so there is no atomic anywhere.
 */
#include <limits.h>

#include "sched.h"

/* Parks the running task self in q until a waker fires its waiter. */
static int wait_in(coro_task *self, coro_waitq *q, const char *what, const void *obj,
                   coro_time deadline)
{
    if (coro__waitq_foreign(q))
        return CORO_ETHREAD; /* a task of another loop waits here already */
    return coro__wait(self, q, NULL, 1, what, obj, deadline, CORO__WAIT_CANCEL);
}

/* ---- mutex ---- */

void coro_mutex_init(coro_mutex *m)
{
    coro_mutex z = CORO_MUTEX_INIT;

    if (m != NULL)
        *m = z;
}

static int lock(coro_mutex *m, coro_time deadline, int try_)
{
    int err;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL)
        return err;
    if (m == NULL)
        return CORO_EINVAL;
    if (err != 0 && !try_)
        return err;
    if (m->holder == NULL) {
        m->holder = self;
        return 0;
    }
    if (m->holder->loop != self->loop)
        return CORO_ETHREAD; /* held by a task of another loop */
    if (m->holder == self || try_)
        return CORO_EBUSY;
    return wait_in(self, &m->q, "mutex", m, deadline);
}

int coro_mutex_lock(coro_mutex *m)
{
    return lock(m, CORO_NEVER, 0);
}

int coro_mutex_lock_until(coro_mutex *m, coro_time deadline)
{
    return lock(m, deadline, 0);
}

int coro_mutex_trylock(coro_mutex *m)
{
    return lock(m, CORO_NEVER, 1);
}

int coro_mutex_unlock(coro_mutex *m)
{
    coro__waiter *w;

    if (m == NULL)
        return CORO_EINVAL;
    if (coro__waitq_foreign(&m->q))
        return CORO_ETHREAD;
    if (m->holder == NULL || m->holder != coro_task_self())
        return CORO_EPERM;
    w = coro__waitq_peek(&m->q);
    m->holder = w != NULL ? w->task : NULL;
    if (w != NULL)
        coro__waiter_fire(w, 0);
    return 0;
}

/* ---- semaphore ---- */

int coro_sem_init(coro_sem *s, long count)
{
    coro_sem z = CORO_SEM_INIT(0);

    if (s == NULL || count < 0)
        return CORO_EINVAL;
    *s = z;
    s->count = count;
    return 0;
}

static int acquire(coro_sem *s, coro_time deadline, int try_)
{
    int err;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL)
        return err;
    if (s == NULL)
        return CORO_EINVAL;
    if (err != 0 && !try_)
        return err;
    if (s->count > 0) {
        s->count--;
        return 0;
    }
    if (try_)
        return CORO_EAGAIN;
    return wait_in(self, &s->q, "semaphore", s, deadline);
}

int coro_sem_acquire(coro_sem *s)
{
    return acquire(s, CORO_NEVER, 0);
}

int coro_sem_acquire_until(coro_sem *s, coro_time deadline)
{
    return acquire(s, deadline, 0);
}

int coro_sem_tryacquire(coro_sem *s)
{
    return acquire(s, CORO_NEVER, 1);
}

int coro_sem_release(coro_sem *s)
{
    coro__waiter *w;

    if (s == NULL)
        return CORO_EINVAL;
    if (coro__waitq_foreign(&s->q))
        return CORO_ETHREAD;
    w = coro__waitq_peek(&s->q);
    if (w != NULL)
        coro__waiter_fire(w, 0); /* the permit goes to it */
    else
        s->count++;
    return 0;
}

/* ---- wait group ---- */

void coro_wg_init(coro_wg *wg)
{
    coro_wg z = CORO_WG_INIT;

    if (wg != NULL)
        *wg = z;
}

int coro_wg_add(coro_wg *wg, long n)
{
    if (wg == NULL || (n < 0 && wg->count + n < 0) || (n > 0 && wg->count > LONG_MAX - n))
        return CORO_EINVAL; /* below 0, or past LONG_MAX */
    if (coro__waitq_foreign(&wg->q))
        return CORO_ETHREAD;
    wg->count += n;
    if (wg->count == 0)
        coro__waitq_fire_all(&wg->q, 0);
    return 0;
}

int coro_wg_done(coro_wg *wg)
{
    return coro_wg_add(wg, -1);
}

int coro_wg_wait_until(coro_wg *wg, coro_time deadline)
{
    int err;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL)
        return err;
    if (wg == NULL)
        return CORO_EINVAL;
    if (err != 0)
        return err;
    if (wg->count == 0)
        return 0;
    return wait_in(self, &wg->q, "wait group", wg, deadline);
}

int coro_wg_wait(coro_wg *wg)
{
    return coro_wg_wait_until(wg, CORO_NEVER);
}

/* ---- event ---- */

void coro_event_init(coro_event *e)
{
    coro_event z = CORO_EVENT_INIT;

    if (e != NULL)
        *e = z;
}

int coro_event_set(coro_event *e)
{
    if (e == NULL)
        return CORO_EINVAL;
    if (coro__waitq_foreign(&e->q))
        return CORO_ETHREAD;
    e->set = 1;
    coro__waitq_fire_all(&e->q, 0);
    return 0;
}

int coro_event_clear(coro_event *e)
{
    if (e == NULL)
        return CORO_EINVAL;
    e->set = 0;
    return 0;
}

int coro_event_is_set(const coro_event *e)
{
    return e != NULL && e->set;
}

int coro_event_wait_until(coro_event *e, coro_time deadline)
{
    int err;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL)
        return err;
    if (e == NULL)
        return CORO_EINVAL;
    if (err != 0)
        return err;
    if (e->set)
        return 0;
    return wait_in(self, &e->q, "event", e, deadline);
}

int coro_event_wait(coro_event *e)
{
    return coro_event_wait_until(e, CORO_NEVER);
}
