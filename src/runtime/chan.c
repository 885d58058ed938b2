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
 */
#include <string.h>

#include "sched.h"

struct coro_chan {
    coro__loop *loop;
    size_t elem_size;
    size_t cap;
    size_t len;  /* elements in the buffer */
    size_t head; /* the oldest one */
    char *buf;
    int closed;
    coro_waitq sendq; /* waiters' data: the element they send */
    coro_waitq recvq; /* waiters' data: where to receive */
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
    ch = coro__malloc(sizeof *ch);
    if (ch == NULL)
        return CORO_ENOMEM;
    memset(ch, 0, sizeof *ch);
    if (capacity > 0 && (ch->buf = coro__malloc(elem_size * capacity)) == NULL) {
        coro__free(ch);
        return CORO_ENOMEM;
    }
    ch->loop = l;
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

/* Copies from a parked task's memory or into it. */
static void *at(const coro__waiter *w)
{
    return coro__task_mem(w->task, w->data);
}

static CORO__ALWAYS_INLINE int send_now(coro_chan *ch, const void *elem)
{
    coro__waiter *w;

    if (ch->closed)
        return CORO_ECHCLOSED;
    if ((w = coro__waitq_peek(&ch->recvq)) != NULL) {
        copy(at(w), elem, ch->elem_size);
        coro__waiter_fire(w, 0);
        return 0;
    }
    if (ch->len < ch->cap) {
        copy(slot(ch, ch->len), elem, ch->elem_size);
        ch->len++;
        return 0;
    }
    return CORO_EAGAIN;
}

static CORO__ALWAYS_INLINE int recv_now(coro_chan *ch, void *elem)
{
    coro__waiter *w = coro__waitq_peek(&ch->sendq);

    if (ch->len > 0) {
        copy(elem, slot(ch, 0), ch->elem_size);
        ch->head = ch->head + 1 == ch->cap ? 0 : ch->head + 1;
        ch->len--;
        if (w != NULL) { /* the buffer was full: the first sender's turn */
            copy(slot(ch, ch->len), at(w), ch->elem_size);
            ch->len++;
            coro__waiter_fire(w, 0);
        }
        return 0;
    }
    if (w != NULL) { /* unbuffered: straight from the sender */
        copy(elem, at(w), ch->elem_size);
        coro__waiter_fire(w, 0);
        return 0;
    }
    return ch->closed ? CORO_ECHCLOSED : CORO_EAGAIN;
}

/* The operation op (CORO_SEND / CORO_RECV) on ch now: 0, CORO_ECHCLOSED,
 * or CORO_EAGAIN when it would have to wait. */
int coro__chan_now(coro_chan *ch, int op, void *data)
{
    return op == CORO_SEND ? send_now(ch, data) : recv_now(ch, data);
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

coro_waitq *coro__chan_queue(coro_chan *ch, int op)
{
    return op == CORO_SEND ? &ch->sendq : &ch->recvq;
}

int coro__chan_valid(const coro_chan *ch)
{
    return ch != NULL && ch->loop == coro__loop_tls;
}

static int valid(const coro_chan *ch, const void *elem)
{
    return coro__chan_valid(ch) && elem != NULL;
}

static int op_until(coro_chan *ch, int op, void *data, coro_time deadline)
{
    int err, rc;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL)
        return err;
    if (ch == NULL || data == NULL || ch->loop != self->loop)
        return CORO_EINVAL;
    if (err != 0)
        return err;
    rc = op == CORO_SEND ? send_now(ch, data) : recv_now(ch, data); /* inline */
    if (rc != CORO_EAGAIN)
        return rc;
    coro__assert(queues_ok(ch, op));
    return coro__wait(self, coro__chan_queue(ch, op), data, 1,
                      op == CORO_SEND ? "chan send" : "chan recv", ch, deadline, CORO__WAIT_CANCEL);
}

int coro_chan_send_until(coro_chan *ch, const void *elem, coro_time deadline)
{
    return op_until(ch, CORO_SEND, (void *)elem, deadline);
}

int coro_chan_send(coro_chan *ch, const void *elem)
{
    return op_until(ch, CORO_SEND, (void *)elem, CORO_NEVER);
}

int coro_chan_try_send(coro_chan *ch, const void *elem)
{
    if (!valid(ch, elem))
        return coro__loop_tls == NULL ? CORO_ENOLOOP : CORO_EINVAL;
    return send_now(ch, elem);
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
    if (!valid(ch, elem))
        return coro__loop_tls == NULL ? CORO_ENOLOOP : CORO_EINVAL;
    return recv_now(ch, elem);
}

/* ch may be closed or freed only by its loop's thread (or by any thread
 * once nobody waits on it and no loop runs on the caller's). */
static int foreign(const coro_chan *ch)
{
    return (coro__loop_tls != NULL && ch->loop != coro__loop_tls) ||
           coro__waitq_foreign(&ch->recvq) || coro__waitq_foreign(&ch->sendq);
}

int coro_chan_close(coro_chan *ch)
{
    if (ch == NULL)
        return CORO_EINVAL;
    if (foreign(ch))
        return CORO_ETHREAD;
    if (ch->closed)
        return CORO_ECHCLOSED;
    ch->closed = 1;
    coro__waitq_fire_all(&ch->recvq, CORO_ECHCLOSED);
    coro__waitq_fire_all(&ch->sendq, CORO_ECHCLOSED);
    return 0;
}

int coro_chan_free(coro_chan *ch)
{
    if (ch == NULL)
        return CORO_EINVAL;
    if (foreign(ch))
        return CORO_ETHREAD;
    if (coro__waitq_peek(&ch->recvq) != NULL || coro__waitq_peek(&ch->sendq) != NULL)
        return CORO_EBUSY;
    coro__free(ch->buf);
    coro__free(ch);
    return 0;
}

size_t coro_chan_len(const coro_chan *ch)
{
    return ch != NULL ? ch->len : 0;
}

size_t coro_chan_cap(const coro_chan *ch)
{
    return ch != NULL ? ch->cap : 0;
}
