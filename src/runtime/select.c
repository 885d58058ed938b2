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
 *
 * A select over a channel shared with other loops (chan.c) shares every
 * channel it names and goes as Go's does: the channels' locks taken in
 * address order, the same look and take under them (a take can find that
 * a waiter it counted was claimed meanwhile, and looks again), the waiters
 * queued, the locks released, one park whose first claim wins (shared.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

static int check(const coro__loop *l, const coro_case *c, int n)
{
    return c == NULL || n <= 0 ? CORO_EINVAL : coro__chan_cases(c, n, l);
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

/* ---- across loops ---- */

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (int *const *)a, y = (uintptr_t) * (int *const *)b;

    return x < y ? -1 : x > y;
}

/* The distinct locks of c's channels in address order, in lk (n of room):
 * how many. */
static int locks_of(const coro_case *c, int n, int **lk)
{
    int m = 0;

    for (int i = 0; i < n; i++)
        lk[i] = coro__chan_lock(c[i].chan);
    qsort(lk, (size_t)n, sizeof *lk, by_address);
    for (int i = 0; i < n; i++)
        if (m == 0 || lk[m - 1] != lk[i])
            lk[m++] = lk[i];
    return m;
}

static void unlock_all(int **lk, int m)
{
    for (int i = m - 1; i >= 0; i--)
        coro__unlock(lk[i]);
}

/* take_ready under the locks. A waiter counted as ready may be claimed
 * meanwhile (by its deadline, another case of its own select, on another
 * thread): the pick or the take then finds fewer ready, and the count is
 * made again (a take drops the stale waiter it found). */
static int xtake_ready(coro__loop *l, coro_case *c, int n)
{
    for (;;) {
        int k = 0, pick, i;

        for (i = 0; i < n; i++)
            k += coro__chan_xready(c[i].chan, c[i].op);
        if (k == 0)
            return CORO_EAGAIN;
        pick = (int)(coro__random(l) % (unsigned)k);
        for (i = 0; i < n; i++)
            if (coro__chan_xready(c[i].chan, c[i].op) && pick-- == 0)
                break;
        if (i == n)
            continue; /* fewer are ready now: a waiter was claimed meanwhile */
        c[i].result = coro__chan_xnow(c[i].chan, c[i].op, c[i].data);
        if (c[i].result != CORO_EAGAIN)
            return i;
    }
}

/* How many bytes of heap copies a copy-stack task's cases need for the
 * values whose data is on the shared stack (its bytes move while it
 * waits): each copy after its size (BOUNCE_HEAD), which the task reads
 * when it has woken, when the channel may be gone. */
#define BOUNCE_HEAD 16

static size_t bounce_size(const coro_task *self, const coro_case *c, int n)
{
    size_t total = 0;

    for (int i = 0; i < n; i++) {
        size_t e = coro__chan_elem_size(c[i].chan);
        if (coro__task_on_shared_stack(self, c[i].data, e))
            total += BOUNCE_HEAD + ((e + 15) & ~(size_t)15);
    }
    return total;
}

/* Where each case's value is while the task waits: its data, or a heap
 * copy in bounce (a send's value copied there now). */
static void bounce_cases(const coro_task *self, const coro_case *c, int n, void **where,
                         char *bounce)
{
    for (int i = 0; i < n; i++) {
        size_t e = coro__chan_elem_size(c[i].chan);
        where[i] = c[i].data;
        if (bounce == NULL || !coro__task_on_shared_stack(self, c[i].data, e))
            continue;
        memcpy(bounce, &e, sizeof e);
        bounce += BOUNCE_HEAD;
        where[i] = bounce;
        if (c[i].op == CORO_SEND)
            memcpy(bounce, c[i].data, e);
        bounce += (e + 15) & ~(size_t)15;
    }
}

/* The select of a task self (NULL: a try from outside a task) some of
 * whose channels are not its loop's own. */
static int xselect(coro__loop *l, coro_task *self, coro_case *c, int n, coro_time deadline,
                   int try_)
{
    int *small_lk[8], **lk = small_lk;
    void *small_where[8], **where = small_where;
    char *mem = NULL, *bounce = NULL;
    coro__waiter *w = NULL;
    size_t copies = 0, ptrs = n > 8 ? (size_t)n * (sizeof *lk + sizeof *where) : 0;
    int m, rc, start;

    for (int i = 0; i < n; i++)
        if ((rc = coro__chan_share(self, c[i].chan)) != 0)
            return rc;
    if (!try_ && self->canceled)
        return CORO_ECANCELED; /* while it waited for a handover */
    if (!try_ && (w = waiters(self, n)) == NULL)
        return CORO_ENOMEM;
    if (!try_)
        copies = bounce_size(self, c, n);
    if (ptrs + copies > 0) {
        /* one block, kept in the task record while it waits: a deadlock's
         * shutdown unwinds a parked task, and frees the record */
        if ((mem = coro__malloc(ptrs + copies)) == NULL)
            return CORO_ENOMEM;
        if (self != NULL)
            self->xmem = mem;
        if (ptrs > 0) {
            lk = (int **)(void *)mem;
            where = (void **)(lk + n);
        }
        if (copies > 0)
            bounce = mem + ptrs;
    }
    bounce_cases(self, c, n, where, bounce);
    m = locks_of(c, n, lk);
    for (int i = 0; i < m; i++)
        coro__lock(lk[i]);
    rc = xtake_ready(l, c, n);
    if (rc == CORO_EAGAIN && !try_ && (rc = coro__xwait_begin(self, deadline)) == 0) {
        start = (int)(coro__random(l) % (unsigned)n);
        for (int j = 0; j < n; j++) {
            int i = (start + j) % n;
            coro__xwait_queue(&w[i], self, coro__chan_queue(c[i].chan, c[i].op),
                              coro__chan_lock(c[i].chan), where[i], i);
        }
        unlock_all(lk, m);
        rc = coro__xwait(self, n, "select", c, CORO__WAIT_CANCEL);
        if (self->x.fired != NULL) { /* else: a deadline, or cancellation */
            int i = (int)(self->x.fired - w);
            c[i].result = self->x.result;
            if (c[i].result == 0 && c[i].op == CORO_RECV && where[i] != c[i].data) {
                size_t e;
                memcpy(&e, (char *)where[i] - BOUNCE_HEAD, sizeof e);
                memcpy(c[i].data, where[i], e);
            }
            rc = i;
        }
    } else {
        unlock_all(lk, m);
    }
    if (mem != NULL) {
        if (self != NULL)
            self->xmem = NULL;
        coro__free(mem);
    }
    return rc;
}

int coro_select_until(coro_case *c, int n, coro_time deadline)
{
    int err, rc, start;
    coro_task *self = coro__blocking_begin(&err);
    coro__waiter *w;

    if (self == NULL)
        return err;
again:
    if ((rc = check(self->loop, c, n)) < 0 || (err != 0 && (rc = err) != 0))
        return rc;
    if (CORO__UNLIKELY(rc == 1))
        return xselect(self->loop, self, c, n, deadline, 0);
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
            if (CORO__UNLIKELY(w[i].result == CORO__ERETRY))
                goto again; /* its channel was shared meanwhile */
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
    if ((rc = check(l, c, n)) < 0)
        return rc;
    if (rc == 1)
        return xselect(l, l->current, c, n, CORO_NEVER, 1);
    return take_ready(l, c, n);
}
