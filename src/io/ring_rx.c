/*
 * ring_rx.c - receiving ahead through io_uring (rx.h, ring.h).
 *
 * Design. One ring per loop, made on first use, with deferred task work
 * (IORING_SETUP_DEFER_TASKRUN): the kernel receives for every armed socket
 * inside the loop's own io_uring_enter, all at once, instead of one read()
 * per request. Each TCP socket has one multishot receive for its whole
 * life; the kernel picks a buffer from a ring of provided buffers for each
 * arrival. The loop waits in io_uring_enter, and the epoll fd, which still
 * watches writes, accepts and everything else, is one more multishot poll
 * in the ring.
 *
 * Bounded memory: NBUF buffers of BUF_LEN bytes per loop. When the kernel
 * finds none free the socket's receive ends (ENOBUFS), and ahead.c reads
 * that socket with read() until enough are back.
 */
#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/poll.h>

#include "rx.h"
#include "hooks.h"
#include "ring.h"

#define ENTRIES 256
#define CQ_ENTRIES 4096
#define NBUF 4096 /* a power of two */
#define BUF_LEN 2048
#define GROUP 0

/* user_data: the kind in the top two bits, the fd's generation, the fd. */
#define KIND_RECV 1ull
#define KIND_POLL 2ull
#define KIND_CANCEL 3ull
#define UD(kind, gen, fd)                                                                          \
    ((kind) << 62 | (unsigned long long)((gen)&CORO__RX_GEN_MASK) << 32 | (unsigned)(fd))

struct coro__rx {
    coro__ring ring;
    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned nbuf;            /* buffers: NBUF, or the test hook's */
    unsigned taken;           /* filled by the kernel and not given back yet */
    unsigned long long *pend; /* cancellations no entry was free for */
    unsigned npend, cap;
    unsigned *len; /* bytes in each buffer */
    int *next;     /* the next buffer of its queue, id + 1 */
    int poll_fd;
    int poll_armed; /* the multishot poll of poll_fd is in the ring */
};

/* Test hook (hooks.h): the next ring has this many buffers (a power
 * of two; 0: NBUF), so that tests can run out of them. */
static __thread unsigned nbuf_next;

void coro__rx_inject(unsigned nbuf)
{
    nbuf_next = nbuf;
}

static int arm_poll(coro__rx *rx)
{
    struct io_uring_sqe *sqe = coro__ring_sqe(&rx->ring);

    if (sqe == NULL)
        return CORO_ENOMEM;
    io_uring_prep_poll_multishot(sqe, rx->poll_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, UD(KIND_POLL, 0, 0));
    rx->poll_armed = 1;
    return 0;
}

coro__rx *coro__rx_open(int poll_fd)
{
    struct io_uring_params p;
    struct io_uring_buf_reg reg;
    unsigned nbuf = nbuf_next > 0 ? nbuf_next : NBUF;
    coro__rx *rx = coro__malloc(sizeof *rx + nbuf * (sizeof(unsigned) + sizeof(int)));

    if (rx == NULL)
        return NULL;
    memset(rx, 0, sizeof *rx);
    rx->nbuf = nbuf;
    rx->len = (unsigned *)(rx + 1);
    rx->next = (int *)(rx->len + nbuf);
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = CQ_ENTRIES;
    if (coro__ring_open(&rx->ring, ENTRIES, &p) != 0) {
        coro__free(rx);
        return NULL;
    }
    rx->br = coro__mmap(nbuf * sizeof(struct io_uring_buf));
    rx->bufs = coro__mmap((size_t)nbuf * BUF_LEN);
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)rx->br;
    reg.ring_entries = nbuf;
    reg.bgid = GROUP;
    if (rx->br == NULL || rx->bufs == NULL ||
        io_uring_register_buf_ring(&rx->ring.u, &reg, 0) != 0) {
        coro__rx_close(rx);
        return NULL;
    }
    io_uring_buf_ring_init(rx->br);
    for (unsigned i = 0; i < nbuf; i++)
        io_uring_buf_ring_add(rx->br, rx->bufs + (size_t)i * BUF_LEN, BUF_LEN, (unsigned short)i,
                              io_uring_buf_ring_mask(nbuf), (int)i);
    io_uring_buf_ring_advance(rx->br, (int)nbuf);
    rx->poll_fd = poll_fd;
    if (arm_poll(rx) != 0) {
        coro__rx_close(rx);
        return NULL;
    }
    return rx;
}

void coro__rx_close(coro__rx *rx)
{
    if (rx == NULL)
        return;
    coro__ring_close(&rx->ring);
    coro__free(rx->pend);
    if (rx->br != NULL)
        coro__munmap(rx->br, rx->nbuf * sizeof(struct io_uring_buf));
    if (rx->bufs != NULL)
        coro__munmap(rx->bufs, (size_t)rx->nbuf * BUF_LEN);
    coro__free(rx);
}

int coro__rx_arm(coro__rx *rx, int fd, unsigned gen)
{
    struct io_uring_sqe *sqe = coro__ring_sqe(&rx->ring);

    if (sqe == NULL)
        return CORO_ENOMEM;
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = GROUP;
    io_uring_sqe_set_data64(sqe, UD(KIND_RECV, gen, fd));
    return 0;
}

/* Queues the cancellation of the request ud: 0, or CORO_ENOMEM when no
 * entry is free. */
static int cancel(coro__rx *rx, unsigned long long ud)
{
    struct io_uring_sqe *sqe = coro__ring_sqe(&rx->ring);

    if (sqe == NULL)
        return CORO_ENOMEM;
    io_uring_prep_cancel64(sqe, ud, 0);
    io_uring_sqe_set_data64(sqe, UD(KIND_CANCEL, 0, 0));
    return 0;
}

/* Queues the cancellations that found no entry before, oldest first. */
static void cancel_pending(coro__rx *rx)
{
    unsigned done = 0;

    while (done < rx->npend && cancel(rx, rx->pend[done]) == 0)
        done++;
    memmove(rx->pend, rx->pend + done, (rx->npend - done) * sizeof *rx->pend);
    rx->npend -= done;
}

void coro__rx_cancel(coro__rx *rx, int fd, unsigned gen)
{
    if (rx->npend > 0)
        cancel_pending(rx);
    if (rx->npend > 0 || cancel(rx, UD(KIND_RECV, gen, fd)) != 0) {
        /* No entry now: the next wait queues it. Until then the receive
         * keeps the connection open and its bytes are dropped as stale. */
        if (rx->npend == rx->cap) {
            unsigned cap = rx->cap > 0 ? rx->cap * 2 : 16;
            unsigned long long *p = coro__malloc(cap * sizeof *p);

            if (p == NULL)
                return; /* then only the loop's end cancels it */
            if (rx->npend > 0)
                memcpy(p, rx->pend, rx->npend * sizeof *p);
            coro__free(rx->pend);
            rx->pend = p;
            rx->cap = cap;
        }
        rx->pend[rx->npend++] = UD(KIND_RECV, gen, fd);
        return;
    }
    /* Now, with any arm still queued: the fd may be closed next, and its
     * number reused by a socket that a late arm would then read. And the
     * deferred work runs now too: it is what lets go of the socket, and
     * the loop may not enter the ring again for a while. */
    io_uring_submit_and_get_events(&rx->ring.u);
}

void coro__rx_end_poll(coro__rx *rx)
{
    if (cancel(rx, UD(KIND_POLL, 0, 0)) == 0)
        coro__ring_submit(&rx->ring);
}

int coro__rx_wait(coro__rx *rx, coro_time timeout, void (*got)(void *ctx, const coro__rx_event *e),
                  void *ctx)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    int events = 0, polled = 0;

    if (rx->npend > 0)
        cancel_pending(rx);
    if (!rx->poll_armed && arm_poll(rx) != 0 && timeout != 0)
        return -1; /* waiting here would not see the poller's events */
    if (timeout == 0) {
        io_uring_submit_and_get_events(&rx->ring.u);
    } else {
        struct __kernel_timespec ts;

        ts.tv_sec = timeout / 1000000000;
        ts.tv_nsec = timeout % 1000000000;
        io_uring_submit_and_wait_timeout(&rx->ring.u, &cqe, 1, timeout < 0 ? NULL : &ts, NULL);
    }
    io_uring_for_each_cqe(&rx->ring.u, head, cqe)
    {
        unsigned long long ud = cqe->user_data;
        coro__rx_event e;

        seen++;
        switch (ud >> 62) {
        case KIND_RECV:
            e.fd = (int)(unsigned)ud;
            e.gen = (unsigned)(ud >> 32) & CORO__RX_GEN_MASK;
            e.res = cqe->res;
            e.bid = (cqe->flags & IORING_CQE_F_BUFFER)
                        ? (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT)
                        : -1;
            e.more = (cqe->flags & IORING_CQE_F_MORE) != 0;
            rx->taken += e.bid >= 0;
            got(ctx, &e);
            events++;
            break;
        case KIND_POLL:
            if (!(cqe->flags & IORING_CQE_F_MORE))
                rx->poll_armed = 0;
            polled = 1;
            break;
        default:
            break; /* a cancellation's own completion */
        }
    }
    io_uring_cq_advance(&rx->ring.u, seen);
    if (!rx->poll_armed)
        (void)arm_poll(rx); /* or at the next wait */
    if (polled) {           /* the poller has events */
        coro__rx_event e = {-1, 0, 0, -1, 0};

        got(ctx, &e);
        events++;
    }
    return events;
}

unsigned coro__rx_size(const coro__rx *rx)
{
    return rx->nbuf;
}

unsigned coro__rx_spare(const coro__rx *rx)
{
    return rx->nbuf - rx->taken;
}

void coro__rx_recycle(coro__rx *rx, int bid)
{
    rx->taken--;
    io_uring_buf_ring_add(rx->br, rx->bufs + (size_t)bid * BUF_LEN, BUF_LEN, (unsigned short)bid,
                          io_uring_buf_ring_mask(rx->nbuf), 0);
    io_uring_buf_ring_advance(rx->br, 1);
}

void coro__rxq_push(coro__rx *rx, coro__rxq *q, int bid, unsigned len)
{
    rx->len[bid] = len;
    rx->next[bid] = 0;
    if (q->last != 0)
        rx->next[q->last - 1] = bid + 1;
    else
        q->first = bid + 1;
    q->last = bid + 1;
    q->n++;
}

/* Buffer bid was read to its end: off the queue, back to the ring. */
static void pop(coro__rx *rx, coro__rxq *q, int bid)
{
    q->first = rx->next[bid];
    if (q->first == 0)
        q->last = 0;
    q->off = 0;
    q->n--;
    coro__rx_recycle(rx, bid);
}

size_t coro__rxq_take(coro__rx *rx, coro__rxq *q, const struct iovec *iov, int n, size_t max)
{
    size_t done = 0, at = 0; /* at: offset into iov[i] */
    int i = 0;

    if (n == 1 && q->first != 0) { /* a read: one copy from the first buffer, mostly */
        int bid = q->first - 1;
        size_t k = rx->len[bid] - q->off;

        if (k > iov->iov_len)
            k = iov->iov_len;
        if (k > max)
            k = max;
        memcpy(iov->iov_base, rx->bufs + (size_t)bid * BUF_LEN + q->off, k);
        q->off += (unsigned)k;
        if (q->off == rx->len[bid])
            pop(rx, q, bid);
        if (k == iov->iov_len || k == max || q->first == 0)
            return k;
        done = at = k; /* more queued and room left: on below */
    }

    while (q->first != 0 && i < n && done < max) {
        int bid = q->first - 1;
        size_t k = rx->len[bid] - q->off;

        if (k > iov[i].iov_len - at)
            k = iov[i].iov_len - at;
        if (k > max - done)
            k = max - done;
        memcpy((char *)iov[i].iov_base + at, rx->bufs + (size_t)bid * BUF_LEN + q->off, k);
        done += k;
        at += k;
        q->off += (unsigned)k;
        if (q->off == rx->len[bid])
            pop(rx, q, bid);
        if (at == iov[i].iov_len) {
            i++;
            at = 0;
        }
    }
    return done;
}

void coro__rxq_drop(coro__rx *rx, coro__rxq *q)
{
    while (q->first != 0) {
        int bid = q->first - 1;

        q->first = rx->next[bid];
        coro__rx_recycle(rx, bid);
    }
    memset(q, 0, sizeof *q);
}
