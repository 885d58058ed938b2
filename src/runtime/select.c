/*
 * select.c - Go's select over channel cases, with a deadline and a default.
 *
 * Design. First a pass that only looks: which cases could proceed now.
 * If k > 0 of them can, one is taken uniformly at random among those k
 * (a random start followed by a scan would favour a case that follows a
 * run of unready ones). Otherwise the task queues one waiter per case, on
 * each case's channel, and parks once; the first waker to serve one of
 * them marks it fired and readies the task, and later wakers skip the
 * others (their task is no longer parked). On waking the task dequeues
 * them all. A channel may appear in several cases: each case has its own
 * waiter, and they are queued from a random case on, so that which one a
 * waker serves is random too.
 */
#include <string.h>

#include "sched.h"

static int check(const coro_case *c, int n)
{
    if (c == NULL || n <= 0)
        return CORO_EINVAL;
    for (int i = 0; i < n; i++)
        if (!coro__chan_valid(c[i].chan) || c[i].data == NULL ||
            (c[i].op != CORO_SEND && c[i].op != CORO_RECV))
            return CORO_EINVAL;
    return 0;
}

/* Takes a random ready case: its index, or CORO_EAGAIN if none is ready. */
static int take_ready(coro__loop *l, coro_case *c, int n)
{
    int k = 0, pick;

    for (int i = 0; i < n; i++)
        k += coro__chan_ready(c[i].chan, c[i].op);
    if (k == 0)
        return CORO_EAGAIN;
    pick = (int)(coro__random(l) % (unsigned)k);
    for (int i = 0; i < n; i++) {
        if (!coro__chan_ready(c[i].chan, c[i].op) || pick-- > 0)
            continue;
        c[i].result = coro__chan_now(c[i].chan, c[i].op, c[i].data);
        return i;
    }
    return CORO_EAGAIN; /* not reached: the k-th ready case exists */
}

static coro__waiter *waiters(coro_task *t, int n)
{
    if (n <= CORO__SELECT_INLINE)
        return t->w;
    if (t->nwx < n) {
        coro__waiter *w = coro__malloc((size_t)n * sizeof *w);

        if (w == NULL)
            return NULL;
        memset(w, 0, (size_t)n * sizeof *w); /* in no queue */
        coro__free(t->wx);
        t->wx = w;
        t->nwx = n;
    }
    return t->wx;
}

int coro_select_until(coro_case *c, int n, coro_time deadline)
{
    int err, rc, start;
    coro_task *self = coro__blocking_begin(&err);
    coro__waiter *w;

    if (self == NULL)
        return err;
    if ((rc = check(c, n)) != 0 || (rc = err) != 0)
        return rc;
    rc = take_ready(self->loop, c, n);
    if (rc != CORO_EAGAIN)
        return rc;
    w = waiters(self, n);
    if (w == NULL)
        return CORO_ENOMEM;
    /* Queued from a random case on: where one channel has several cases,
     * which of them a waker finds first is random too. */
    start = (int)(coro__random(self->loop) % (unsigned)n);
    for (int j = 0; j < n; j++) {
        int i = (start + j) % n;
        coro__waiter_wait(&w[i], self, coro__chan_queue(c[i].chan, c[i].op), c[i].data, i);
    }
    rc = coro__wait(self, NULL, NULL, n, "select", c, deadline, CORO__WAIT_CANCEL);
    for (int i = 0; i < n; i++)
        if (w[i].fired) {
            c[i].result = w[i].result;
            return i;
        }
    return rc;
}

int coro_select(coro_case *c, int n)
{
    return coro_select_until(c, n, CORO_NEVER);
}

int coro_try_select(coro_case *c, int n)
{
    coro__loop *l = coro__loop_tls;
    int rc;

    if (l == NULL)
        return CORO_ENOLOOP;
    if ((rc = check(c, n)) != 0)
        return rc;
    return take_ready(l, c, n);
}
