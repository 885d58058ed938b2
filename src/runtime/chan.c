/*
 * chan.c - channels: Go's semantics in C, with error codes for Go's panics.
 *
 * Design. A ring buffer of `cap` elements and two FIFO queues of parked
 * tasks (senders with the element they offer, receivers with where to put
 * one). At most one queue is non-empty: a sender parks only when the buffer
 * is full and no receiver waits, a receiver only when the buffer is empty
 * and no sender waits. A value goes straight from the sender to a parked
 * receiver (no trip through the buffer); when a receiver frees a slot of a
 * full buffer it moves the first parked sender's element in, so the order
 * of values is the order of sends. Closing wakes every waiter with
 * CORO_ECHCLOSED; receivers drain the buffer first.
 *
 * The operations come in a "now" form that never parks (chan_now, used by
 * the try forms and by select) and the blocking wrapper around it.
 *
 * Across loops. A channel belongs to the loop that opened it and is used
 * there without a lock or an atomic, as on one loop. The first time a task
 * of another loop of the run uses it, that task asks the channel's loop to
 * share it (a message there and back, once per channel): the loop marks it
 * shared and fires its parked waiters with CORO__ERETRY, so that they start
 * their operation again as a shared one. From then on every operation, from
 * any loop, takes the channel's lock, and waits and wakes go through
 * shared.c's claims. The mark is in the word the single-loop path compares
 * anyway (the loop's uid), so that path pays nothing for it.
 */
#include <string.h>

#include "sched.h"

/* key's high bit: the channel is shared by the loops of its run. */
#define SHARED (1ULL << 63)

struct coro_chan {
    /* What every operation writes, in one line (a channel is allocated on
     * a line's boundary): a rendezvous between loops moves this line and
     * no other of the channel's. */
    unsigned long long key; /* its loop's uid, | SHARED once shared (atomic) */
    int lock;               /* held by every operation once shared */
    int closed;
    size_t len;       /* elements in the buffer */
    size_t cap;       /* its capacity */
    coro_waitq sendq; /* waiters' data: the element they send */
    coro_waitq recvq; /* waiters' data: where to receive */
    /* Set once, but the buffer's position */
    size_t elem_size;
    size_t head; /* the oldest element in the buffer */
    char *buf;
    unsigned long long run; /* its run's uid */
    int index;              /* its loop's index in the run */
};

int coro_chan_open(coro_chan **out, size_t elem_size, size_t capacity)
{
    coro__loop *l = coro__loop_tls;
    coro_chan *ch;

    if (out == NULL)
        return CORO_EINVAL;
    *out = NULL;
    if (elem_size == 0 || (capacity > 0 && elem_size > (size_t)-1 / capacity))
        return CORO_EINVAL;
    if (l == NULL)
        return CORO_ENOLOOP;
    ch = coro__malloc_aligned(sizeof *ch, CORO__CACHE_LINE);
    if (ch == NULL)
        return CORO_ENOMEM;
    memset(ch, 0, sizeof *ch);
    if (capacity > 0 && (ch->buf = coro__malloc(elem_size * capacity)) == NULL) {
        coro__free(ch);
        return CORO_ENOMEM;
    }
    ch->key = l->uid;
    ch->run = l->run_uid;
    ch->index = l->index;
    ch->elem_size = elem_size;
    ch->cap = capacity;
    *out = ch;
    return 0;
}

/* memcpy of one element; the common sizes inline to a move or two. */
static void copy(void *dst, const void *src, size_t n)
{
    switch (n) {
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    default:
        memcpy(dst, src, n);
    }
}

/* The buffer's i-th element from the oldest (i <= len <= cap): no
 * division, which would cost more than the rest of a buffered send. */
static char *slot(const coro_chan *ch, size_t i)
{
    size_t k = ch->head + i;

    if (k >= ch->cap)
        k -= ch->cap;
    return ch->buf + k * ch->elem_size;
}

/* The channel's invariants when a task is about to wait for op
 * (CORO_ASSERTS): the buffer within its bounds, and nobody on the other
 * side who could have completed op now (a parked receiver while elements
 * are buffered, or a parked sender while there is room). */
#ifdef CORO_ASSERTS
static int queues_ok(coro_chan *ch, int op)
{
    if (ch->len > ch->cap || (ch->cap > 0 && ch->head >= ch->cap) || ch->closed)
        return 0;
    if (op == CORO_SEND)
        return ch->len == ch->cap && coro__waitq_peek(&ch->recvq) == NULL;
    return ch->len == 0 && coro__waitq_peek(&ch->sendq) == NULL;
}
#endif

/* Copies from a parked task's memory or into it. A waiter of a shared
 * queue (x) points at memory that stays put (shared.c). */
static CORO__ALWAYS_INLINE void *at(const coro__waiter *w, int x)
{
    return x ? w->data : coro__task_mem(w->task, w->data);
}

/* The first waiter of q to serve, and firing it: on one loop, or (x) on a
 * shared channel, where the peek claims its task. */
static CORO__ALWAYS_INLINE coro__waiter *peek(coro_waitq *q, int x)
{
    return x ? coro__xpeek(q) : coro__waitq_peek(q);
}

static CORO__ALWAYS_INLINE void fire(coro__waiter *w, int result, int x)
{
    if (x)
        coro__xfire(w, result);
    else
        coro__waiter_fire(w, result);
}

static CORO__ALWAYS_INLINE int send_now(coro_chan *ch, const void *elem, int x)
{
    coro__waiter *w;

    if (ch->closed)
        return CORO_ECHCLOSED;
    if ((w = peek(&ch->recvq, x)) != NULL) {
        copy(at(w, x), elem, ch->elem_size);
        fire(w, 0, x);
        return 0;
    }
    if (ch->len < ch->cap) {
        copy(slot(ch, ch->len), elem, ch->elem_size);
        ch->len++;
        return 0;
    }
    return CORO_EAGAIN;
}

static CORO__ALWAYS_INLINE int recv_now(coro_chan *ch, void *elem, int x)
{
    coro__waiter *w = peek(&ch->sendq, x);

    if (ch->len > 0) {
        copy(elem, slot(ch, 0), ch->elem_size);
        ch->head = ch->head + 1 == ch->cap ? 0 : ch->head + 1;
        ch->len--;
        if (w != NULL) { /* the buffer was full: the first sender's turn */
            copy(slot(ch, ch->len), at(w, x), ch->elem_size);
            ch->len++;
            fire(w, 0, x);
        }
        return 0;
    }
    if (w != NULL) { /* unbuffered: straight from the sender */
        copy(elem, at(w, x), ch->elem_size);
        fire(w, 0, x);
        return 0;
    }
    return ch->closed ? CORO_ECHCLOSED : CORO_EAGAIN;
}

/* The operation op (CORO_SEND / CORO_RECV) on ch now: 0, CORO_ECHCLOSED,
 * or CORO_EAGAIN when it would have to wait. */
int coro__chan_now(coro_chan *ch, int op, void *data)
{
    return op == CORO_SEND ? send_now(ch, data, 0) : recv_now(ch, data, 0);
}

int coro__chan_xnow(coro_chan *ch, int op, void *data)
{
    return op == CORO_SEND ? send_now(ch, data, 1) : recv_now(ch, data, 1);
}

/* Whether op on ch would complete (or fail with CORO_ECHCLOSED) now. */
int coro__chan_ready(coro_chan *ch, int op)
{
    if (ch->closed)
        return 1;
    if (op == CORO_SEND)
        return ch->len < ch->cap || coro__waitq_peek(&ch->recvq) != NULL;
    return ch->len > 0 || coro__waitq_peek(&ch->sendq) != NULL;
}

int coro__chan_xready(coro_chan *ch, int op)
{
    if (ch->closed)
        return 1;
    if (op == CORO_SEND)
        return ch->len < ch->cap || coro__xwaiting(&ch->recvq);
    return ch->len > 0 || coro__xwaiting(&ch->sendq);
}

coro_waitq *coro__chan_queue(coro_chan *ch, int op)
{
    return op == CORO_SEND ? &ch->sendq : &ch->recvq;
}

int *coro__chan_lock(coro_chan *ch)
{
    return &ch->lock;
}

size_t coro__chan_elem_size(const coro_chan *ch)
{
    return ch->elem_size;
}

static unsigned long long key(const coro_chan *ch)
{
    return __atomic_load_n(&ch->key, __ATOMIC_ACQUIRE);
}

int coro__chan_cases(const coro_case *c, int n, const coro__loop *l)
{
    unsigned long long x = 0;

    for (int i = 0; i < n; i++) {
        if (c[i].chan == NULL || c[i].data == NULL ||
            (c[i].op != CORO_SEND && c[i].op != CORO_RECV))
            return CORO_EINVAL;
        x |= key(c[i].chan) ^ l->uid;
    }
    return x != 0;
}

/* ---- sharing ---- */

/* On the channel's loop: from now on every operation locks, and the tasks
 * parked on it start theirs again, as shared ones. */
static void share_here(coro_chan *ch)
{
    if (ch->key & SHARED)
        return;
    coro__waitq_fire_all(&ch->recvq, CORO__ERETRY);
    coro__waitq_fire_all(&ch->sendq, CORO__ERETRY);
    /* last: other loops touch the channel once they see the mark */
    __atomic_store_n(&ch->key, ch->key | SHARED, __ATOMIC_RELEASE);
}

/* A task's request that the channel's loop share it, and the answer. */
typedef struct share_req {
    coro__msg m;
    coro_chan *ch;
    coro_task *task;
} share_req;

static void deliver_answer(coro__loop *l, coro__msg *m)
{
    share_req *r = coro__container_of(m, share_req, m);
    coro_task *t = r->task;

    (void)l;
    coro__free(r);
    coro__ready(t, 0);
}

static void deliver_request(coro__loop *l, coro__msg *m)
{
    share_req *r = coro__container_of(m, share_req, m);

    (void)l;
    share_here(r->ch);
    r->m.deliver = deliver_answer;
    coro__run_send(r->task->loop, &r->m);
}

/* Whether ch is a channel of l's run (not one of another run, or of one
 * that has ended): a comparison of l's own, nothing of another loop read. */
static int of_run(const coro_chan *ch, const coro__loop *l)
{
    return ch->run == l->run_uid;
}

int coro__chan_share(coro_task *self, coro_chan *ch)
{
    coro__loop *l = coro__loop_tls, *home;
    unsigned long long k = key(ch);
    share_req *r;

    if (!of_run(ch, l))
        return CORO_ETHREAD; /* another run's, or one that has ended */
    if (k & SHARED)
        return 0;
    if ((home = coro__run_loop(l, ch->index, k)) == NULL)
        return CORO_ETHREAD; /* not reached: a loop of the run */
    if (home == l) {
        share_here(ch);
        return 0;
    }
    if (self == NULL || coro__tls->current != self->co)
        return CORO_ENOLOOP; /* the handover needs the task itself to wait */
    if (!coro__can_wait(self))
        return CORO_ECBOUNDARY;
    if ((r = coro__malloc(sizeof *r)) == NULL)
        return CORO_ENOMEM;
    r->m.deliver = deliver_request;
    r->ch = ch;
    r->task = self;
    coro__run_send(home, &r->m);
    /* Neither a deadline nor cancellation ends this wait: the answer will
     * come (the channel's loop runs as long as the run), and readies self. */
    return coro__wait(self, NULL, NULL, 0, "chan share", ch, CORO_NEVER, 0);
}

/* ---- operations across loops ---- */

/* op on a channel that is not the calling loop's own: shared first, then
 * under its lock; try_: never waits. */
static int xop(coro_task *self, coro_chan *ch, int op, void *data, coro_time deadline, int try_)
{
    void *bounce = NULL, *where = data;
    size_t size = ch->elem_size; /* ch may be freed once self is woken */
    int rc;

    if ((rc = coro__chan_share(self, ch)) != 0)
        return rc;
    if (!try_ && self->canceled)
        return CORO_ECANCELED; /* while it waited for the handover */
    if (try_) {
        /* never waits: the data stays where it is */
    } else if (size <= sizeof self->x.val) {
        /* a small element waits in the line the waker writes anyway
         * (sched.h), not on the task's stack: one line less to cross, and
         * the stack's bytes may move while it waits (copy-stack mode) */
        where = self->x.val;
        if (op == CORO_SEND)
            memcpy(where, data, size);
    } else if (coro__task_on_shared_stack(self, data, size)) {
        /* a copy-stack task's bytes move while it waits: the waker
         * copies to or from the heap instead */
        if ((bounce = coro__malloc(size)) == NULL)
            return CORO_ENOMEM;
        self->xmem = bounce; /* freed with the task if a deadlock's shutdown
                              * unwinds it while it waits */
        if (op == CORO_SEND)
            memcpy(bounce, data, size);
        where = bounce;
    }
    coro__lock(&ch->lock);
    rc = coro__chan_xnow(ch, op, data);
    if (rc == CORO_EAGAIN && !try_ && (rc = coro__xwait_begin(self, deadline)) == 0) {
        coro__xwait_queue(&self->w[0], self, coro__chan_queue(ch, op), &ch->lock, where, -1);
        coro__unlock(&ch->lock);
        rc = coro__xwait(self, 1, op == CORO_SEND ? "chan send" : "chan recv", ch,
                         CORO__WAIT_CANCEL);
        if (rc == 0 && op == CORO_RECV && where != data)
            memcpy(data, where, size);
    } else {
        coro__unlock(&ch->lock);
    }
    if (bounce != NULL) {
        self->xmem = NULL;
        coro__free(bounce);
    }
    return rc;
}

static int op_until(coro_chan *ch, int op, void *data, coro_time deadline)
{
    int err, rc;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL)
        return err;
    if (ch == NULL || data == NULL)
        return CORO_EINVAL;
    if (err != 0) /* after the arguments: a channel of another run first */
        return key(ch) != self->loop->uid && !of_run(ch, self->loop) ? CORO_ETHREAD : err;
    for (;;) {
        if (CORO__UNLIKELY(key(ch) != self->loop->uid))
            return xop(self, ch, op, data, deadline, 0);
        rc = op == CORO_SEND ? send_now(ch, data, 0) : recv_now(ch, data, 0); /* inline */
        if (rc != CORO_EAGAIN)
            return rc;
        coro__assert(queues_ok(ch, op));
        rc = coro__wait(self, coro__chan_queue(ch, op), data, 1,
                        op == CORO_SEND ? "chan send" : "chan recv", ch, deadline,
                        CORO__WAIT_CANCEL);
        if (CORO__LIKELY(rc != CORO__ERETRY))
            return rc; /* else: ch was shared meanwhile */
    }
}

int coro_chan_send_until(coro_chan *ch, const void *elem, coro_time deadline)
{
    return op_until(ch, CORO_SEND, (void *)elem, deadline);
}

int coro_chan_send(coro_chan *ch, const void *elem)
{
    return op_until(ch, CORO_SEND, (void *)elem, CORO_NEVER);
}

/* The try forms: never wait, except the first time a channel of another
 * loop is used (coro__chan_share). */
static int try_op(coro_chan *ch, int op, void *data)
{
    coro__loop *l = coro__loop_tls;

    if (l == NULL)
        return CORO_ENOLOOP;
    if (ch == NULL || data == NULL)
        return CORO_EINVAL;
    if (CORO__UNLIKELY(key(ch) != l->uid))
        return xop(l->current, ch, op, data, CORO_NEVER, 1);
    return op == CORO_SEND ? send_now(ch, data, 0) : recv_now(ch, data, 0);
}

int coro_chan_try_send(coro_chan *ch, const void *elem)
{
    return try_op(ch, CORO_SEND, (void *)elem);
}

int coro_chan_recv_until(coro_chan *ch, void *elem, coro_time deadline)
{
    return op_until(ch, CORO_RECV, elem, deadline);
}

int coro_chan_recv(coro_chan *ch, void *elem)
{
    return op_until(ch, CORO_RECV, elem, CORO_NEVER);
}

int coro_chan_try_recv(coro_chan *ch, void *elem)
{
    return try_op(ch, CORO_RECV, elem);
}

static int has_waiters(const coro_chan *ch)
{
    return ch->recvq.first != NULL || ch->sendq.first != NULL;
}

/* ch may be closed or freed by a thread without a loop only once nobody
 * waits on it; one with a loop: by the channel's loop, or (coro__chan_share)
 * another loop of its run. */
static int xclose(coro__loop *l, coro_chan *ch)
{
    int rc;

    if ((rc = coro__chan_share(l->current, ch)) != 0)
        return rc;
    coro__lock(&ch->lock);
    if (ch->closed) {
        rc = CORO_ECHCLOSED;
    } else {
        ch->closed = 1;
        coro__xfire_all(&ch->recvq, CORO_ECHCLOSED);
        coro__xfire_all(&ch->sendq, CORO_ECHCLOSED);
    }
    coro__unlock(&ch->lock);
    return rc;
}

int coro_chan_close(coro_chan *ch)
{
    coro__loop *l = coro__loop_tls;

    if (ch == NULL)
        return CORO_EINVAL;
    if (l != NULL && key(ch) != l->uid)
        return xclose(l, ch);
    if (l == NULL) { /* once nobody waits: the lock, in case it was shared */
        int rc = 0;
        coro__lock(&ch->lock);
        if (has_waiters(ch))
            rc = CORO_ETHREAD;
        else if (ch->closed)
            rc = CORO_ECHCLOSED;
        else
            ch->closed = 1;
        coro__unlock(&ch->lock);
        return rc;
    }
    if (ch->closed)
        return CORO_ECHCLOSED;
    ch->closed = 1;
    coro__waitq_fire_all(&ch->recvq, CORO_ECHCLOSED);
    coro__waitq_fire_all(&ch->sendq, CORO_ECHCLOSED);
    return 0;
}

int coro_chan_free(coro_chan *ch)
{
    coro__loop *l = coro__loop_tls;
    unsigned long long k;
    int busy;

    if (ch == NULL)
        return CORO_EINVAL;
    k = key(ch);
    if (l != NULL && !of_run(ch, l))
        return CORO_ETHREAD;
    if (k & SHARED)
        coro__lock(&ch->lock);
    busy = has_waiters(ch);
    if (k & SHARED)
        coro__unlock(&ch->lock);
    if (busy)
        return l == NULL ? CORO_ETHREAD : CORO_EBUSY;
    coro__free(ch->buf);
    coro__free(ch);
    return 0;
}

size_t coro_chan_len(const coro_chan *ch)
{
    size_t n;

    if (ch == NULL)
        return 0;
    if (!(key(ch) & SHARED))
        return ch->len;
    coro__lock((int *)&ch->lock);
    n = ch->len;
    coro__unlock((int *)&ch->lock);
    return n;
}

size_t coro_chan_cap(const coro_chan *ch)
{
    return ch != NULL ? ch->cap : 0;
}
