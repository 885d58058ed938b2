/*
 * shared.c - wait queues shared by the loops of a run: how a task of one
 * loop waits on a channel, lock or event that tasks of other loops fire.
 *
 * Design. On one loop a waiter's task is "still parked?" by a plain load,
 * and that is the whole of select's atomicity (sched.h). Across loops the
 * waker runs on another thread, so the object takes a lock (a spin: it is
 * held for a few dozen instructions and never across a park), and the
 * parked task carries a claim word that every party that would wake it
 * must win first: a waker of any loop (under the object's lock), its own
 * deadline and its cancellation (in coro__ready, on its loop). Only the
 * winner fires a waiter of that park and copies a value; the others find
 * the waiter stale and drop it. As in Go's select (its selectDone), one
 * compare-and-swap decides among the cases of every channel at once.
 *
 * A waker that wins the claim of another loop's task writes the waiter's
 * result under the lock and sends the task's loop the wake-up message
 * embedded in the task record (a task waits in one park at a time, so one
 * is enough): the loop readies the task when it is delivered, between its
 * tasks. The task then takes each lock in turn to dequeue its waiters and
 * read which one fired. What the waker writes of the task record but the
 * waiter is in one cache line (struct coro__xpark), which is all the task's
 * loop reads back: a crossing costs the lines it moves. Nothing a waker
 * writes is on the waiting task's stack except the value of a receive (a
 * small one goes to that line instead); a task in copy-stack mode, whose
 * stack bytes move while it is switched out, waits with its values in a
 * heap buffer (the caller's concern: chan.c, select.c).
 *
 * The park is published before the task has switched away: once the locks
 * are released a waker may claim it. So everything that could make the
 * park fail (a deadline already past, no memory to arm it, a task that
 * cannot suspend) is settled before a waiter is queued, and a claim's
 * message is delivered only by the scheduler, once the task is parked.
 *
 * A deadlock's shutdown closes every loop's tasks at once. Their cleanups
 * may still fire objects (a non-blocking send, a close); a waker whose
 * loop is stopping claims no task of another loop, whose record that loop
 * is freeing, so that no wake-up is ever in flight to a task that is gone.
 *
 * Rejected: running the operation on the object's home loop by messages
 * (each crossing operation a round trip through two inboxes, and select
 * over channels of two loops needs a commit protocol); a lock on every
 * object in every run (the single-loop paths would pay two atomic
 * operations per call).
 */
#include <sched.h>

#include "sched.h"

/* The line a waker of another loop touches (sched.h). */
typedef char coro__xpark_fits_a_line[sizeof(struct coro__xpark) <= CORO__CACHE_LINE ? 1 : -1];

void coro__lock_wait(int *lk)
{
    for (unsigned n = 0;; n++) {
        while (__atomic_load_n(lk, __ATOMIC_RELAXED) != 0) {
            if (n < 64) {
                coro__cpu_relax();
            } else {
                sched_yield(); /* the holder may not have a CPU */
            }
            n++;
        }
        if (__atomic_exchange_n(lk, 1, __ATOMIC_ACQUIRE) == 0)
            return;
    }
}

/* Whether a waker on l may claim a task of loop `to`: not while l shuts
 * down after a deadlock (every loop frees its tasks then). */
static int may_claim(const coro__loop *l, const coro_task *t)
{
    return t->x.loop == l || !l->stopping;
}

/* A stale waiter (its task was claimed by another party) stays in its
 * queue until its task dequeues it, under the lock: so an object with a
 * waiter of a task that has not dequeued yet is never freed under it
 * (coro_chan_free: CORO_EBUSY). Only the fired waiter leaves at once, and
 * its task does not touch its queue again. */
coro__waiter *coro__xpeek(coro_waitq *q)
{
    coro__loop *l = coro__loop_tls;

    for (coro__waiter *w = q->first; w != NULL; w = w->next)
        if (may_claim(l, w->task) && coro__claim(w->task))
            return w;
    return NULL;
}

int coro__xwaiting(coro_waitq *q)
{
    coro__loop *l = coro__loop_tls;

    for (coro__waiter *w = q->first; w != NULL; w = w->next)
        if (may_claim(l, w->task) && __atomic_load_n(&w->task->x.claim, __ATOMIC_ACQUIRE) == 0)
            return 1;
    return 0;
}

static void deliver_wake(coro__loop *l, coro__msg *m)
{
    coro_task *t = coro__container_of(m, coro_task, x.msg);

    (void)l;
    t->state = CORO__T_PARKED; /* claimed already: the wake-up is this message */
    coro__ready(t, 0);
}

void coro__xfire(coro__waiter *w, int result)
{
    coro_task *t = w->task;

    w->fired = 1;
    coro__waitq_remove(w);
    t->x.result = result;
    t->x.fired = w;
    if (t->x.loop == coro__loop_tls) {
        t->state = CORO__T_PARKED; /* claimed: readied as any parked task */
        coro__ready(t, 0);
        return;
    }
    t->x.msg.deliver = deliver_wake;
    coro__run_push(t->x.inbox, &t->x.msg);
}

void coro__xfire_all(coro_waitq *q, int result)
{
    coro__loop *l = coro__loop_tls;
    coro__waiter *w, *next;

    for (w = q->first; w != NULL; w = next) {
        next = w->next;
        if (may_claim(l, w->task) && coro__claim(w->task))
            coro__xfire(w, result);
    }
}

int coro__xwait_begin(coro_task *t, coro_time deadline)
{
    int rc;

    if (!coro__can_wait(t))
        return CORO_ECBOUNDARY; /* what coro__wait returns there */
    if (t->canceled)
        return CORO_ECANCELED; /* every wait here is cancelable */
    if (deadline != CORO_NEVER && (rc = coro__park_deadline(t, deadline)) != 0)
        return rc;
    __atomic_store_n(&t->x.claim, 0, __ATOMIC_RELAXED); /* published by the unlocks */
    t->x.fired = NULL;
    t->x.loop = t->loop;
    t->x.inbox = t->loop->inbox;
    return 0;
}

/* Dequeues t's waiters of its wait on shared queues, each under its lock
 * but the one its claimer fired (out of its queue already, whose object
 * may be gone by now): the fired one's result, or rc. */
static int dequeue(coro_task *t, int rc)
{
    coro__waiter *w = t->x.n <= CORO__SELECT_INLINE ? t->w : t->wx;

    for (int i = 0; i < t->x.n; i++) {
        if (&w[i] == t->x.fired) {
            rc = t->x.result;
            continue;
        }
        coro__lock(w[i].lock);
        coro__waitq_remove(&w[i]);
        coro__unlock(w[i].lock);
    }
    t->x.n = 0;
    return rc;
}

int coro__xwait(coro_task *t, int n, const char *what, const void *obj, unsigned flags)
{
    int rc;

    t->state = CORO__T_XPARKED;
    t->what = what;
    t->obj = obj;
    t->cancelable = (flags & CORO__WAIT_CANCEL) != 0;
    t->wake = 0;
    t->x.n = n;
    rc = coro__switch_away(t->loop, t->co, t);
    coro__assert(rc == 0); /* coro__xwait_begin asked whether t can suspend */
    (void)rc;
    return dequeue(t, t->wake);
}

void coro__xwait_forget(coro_task *t)
{
    (void)dequeue(t, 0);
}
