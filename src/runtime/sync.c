/*
 * sync.c - mutex, semaphore, wait group and event: plain structs in the
 * caller's storage (zero or the static initialisers are ready to use),
 * each a value plus a FIFO queue of parked tasks.
 *
 * Design. Ownership passes directly to the first waiter (a mutex unlock
 * makes the waiter the holder, a semaphore release gives the permit to the
 * waiter, not to the count), so a task that arrives later cannot barge in
 * ahead of one that waited: FIFO fairness, no starvation. With one loop all
 * of it runs on the loop's thread, so there is no atomic anywhere.
 *
 * In a run of several loops any of the run's tasks may use an object, so
 * every call there takes the object's lock and waits through shared.c's
 * claims. The objects have no loop of their own (zero is ready to use), so
 * unlike a channel, which is its loop's until another loop uses it, they
 * cannot tell which run will touch them first: the run's loop count
 * decides.
 */
#include <limits.h>

#include "sched.h"

/* Whether the calling thread's loop is one of several: the objects lock. */
static int shared(void)
{
    coro__loop *l = coro__loop_tls;

    return l != NULL && l->run != NULL;
}

/* As wait_in, in a run of several loops, with lk held (released here). */
static int xwait_in(coro_task *self, coro_waitq *q, int *lk, const char *what, const void *obj,
                    coro_time deadline)
{
    int rc = coro__xwait_begin(self, deadline);

    if (rc != 0) {
        coro__unlock(lk);
        return rc;
    }
    coro__xwait_queue(&self->w[0], self, q, lk, NULL, -1);
    coro__unlock(lk);
    return coro__xwait(self, 1, what, obj, CORO__WAIT_CANCEL);
}

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
    if (self->loop->run != NULL) {
        coro__lock(&m->lock);
        if (m->holder == NULL) {
            m->holder = self->h;
            coro__unlock(&m->lock);
            return 0;
        }
        if (m->holder == self->h || try_) {
            coro__unlock(&m->lock);
            return CORO_EBUSY;
        }
        return xwait_in(self, &m->q, &m->lock, "mutex", m, deadline);
    }
    if (m->holder == NULL) {
        m->holder = self->h;
        return 0;
    }
    if (coro__handle_loop(m->holder) != self->loop)
        return CORO_ETHREAD; /* held by a task of another loop */
    if (m->holder == self->h || try_)
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

/* The running task's handle, which a mutex keeps as its holder. */
static coro_task *self_handle(void)
{
    coro_task *t = coro__self();

    return t != NULL ? t->h : NULL;
}

static int xunlock(coro_mutex *m)
{
    coro__waiter *w;
    int rc = 0;

    coro__lock(&m->lock);
    if (m->holder == NULL || m->holder != self_handle()) {
        rc = CORO_EPERM;
    } else {
        w = coro__xpeek(&m->q);
        m->holder = w != NULL ? w->task->h : NULL;
        if (w != NULL)
            coro__xfire(w, 0);
    }
    coro__unlock(&m->lock);
    return rc;
}

int coro_mutex_unlock(coro_mutex *m)
{
    coro__waiter *w;

    if (m == NULL)
        return CORO_EINVAL;
    if (shared())
        return xunlock(m);
    if (coro__waitq_foreign(&m->q))
        return CORO_ETHREAD;
    if (m->holder == NULL || m->holder != self_handle())
        return CORO_EPERM;
    w = coro__waitq_peek(&m->q);
    m->holder = w != NULL ? w->task->h : NULL;
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
    if (self->loop->run != NULL) {
        coro__lock(&s->lock);
        if (s->count > 0) {
            s->count--;
            coro__unlock(&s->lock);
            return 0;
        }
        if (try_) {
            coro__unlock(&s->lock);
            return CORO_EAGAIN;
        }
        return xwait_in(self, &s->q, &s->lock, "semaphore", s, deadline);
    }
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
    if (shared()) {
        coro__lock(&s->lock);
        if ((w = coro__xpeek(&s->q)) != NULL)
            coro__xfire(w, 0);
        else
            s->count++;
        coro__unlock(&s->lock);
        return 0;
    }
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

static int bad_add(const coro_wg *wg, long n)
{
    return (n < 0 && wg->count + n < 0) || (n > 0 && wg->count > LONG_MAX - n);
}

static int xadd(coro_wg *wg, long n)
{
    int rc = 0;

    coro__lock(&wg->lock);
    if (bad_add(wg, n)) {
        rc = CORO_EINVAL;
    } else {
        wg->count += n;
        if (wg->count == 0)
            coro__xfire_all(&wg->q, 0);
    }
    coro__unlock(&wg->lock);
    return rc;
}

int coro_wg_add(coro_wg *wg, long n)
{
    if (wg != NULL && shared())
        return xadd(wg, n);
    if (wg == NULL || bad_add(wg, n))
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
    if (self->loop->run != NULL) {
        coro__lock(&wg->lock);
        if (wg->count == 0) {
            coro__unlock(&wg->lock);
            return 0;
        }
        return xwait_in(self, &wg->q, &wg->lock, "wait group", wg, deadline);
    }
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
    if (shared()) {
        coro__lock(&e->lock);
        __atomic_store_n(&e->set, 1, __ATOMIC_RELAXED);
        coro__xfire_all(&e->q, 0);
        coro__unlock(&e->lock);
        return 0;
    }
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
    if (shared()) {
        coro__lock(&e->lock);
        __atomic_store_n(&e->set, 0, __ATOMIC_RELAXED);
        coro__unlock(&e->lock);
        return 0;
    }
    e->set = 0;
    return 0;
}

int coro_event_is_set(const coro_event *e)
{
    return e != NULL && __atomic_load_n(&e->set, __ATOMIC_RELAXED);
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
    if (self->loop->run != NULL) {
        coro__lock(&e->lock);
        if (e->set) {
            coro__unlock(&e->lock);
            return 0;
        }
        return xwait_in(self, &e->q, &e->lock, "event", e, deadline);
    }
    if (e->set)
        return 0;
    return wait_in(self, &e->q, "event", e, deadline);
}

int coro_event_wait(coro_event *e)
{
    return coro_event_wait_until(e, CORO_NEVER);
}
