/*
 * rx.h - the receive-ahead ring (ring_rx.c): TCP sockets whose bytes the
 * kernel puts into the loop's buffers through io_uring (one multishot
 * receive per socket, for its whole life), where tasks read them without a
 * system call; and the loop's wait, which is then io_uring's.
 *
 * fd.c owns the fds and their queues' places, ahead.c the policy (which
 * sockets, when to arm, pause and fall back); this file's ring owns its
 * buffers and the queue operations. Nothing here knows about tasks.
 */
#ifndef CORO_RX_H
#define CORO_RX_H

#include <sys/uio.h>

#include "internal.h"

typedef struct coro__rx coro__rx;

/* The bytes received for one fd and not yet read: a FIFO of the ring's
 * buffers. Zeroed is empty. */
typedef struct coro__rxq {
    int first, last; /* buffer id + 1; 0: none */
    unsigned off;    /* bytes of the first already read */
    unsigned n;      /* buffers queued */
} coro__rxq;

/* The bits of an fd's generation a completion carries. */
#define CORO__RX_GEN_MASK 0x3fffffffu

/* What the ring reported (coro__rx_wait). fd < 0: the nested poller has
 * events to collect. */
typedef struct coro__rx_event {
    int fd;
    unsigned gen; /* the fd's generation when armed: an older one is stale */
    int res;      /* bytes, 0 at the end, or a negative errno */
    int bid;      /* the buffer holding them, or -1 */
    int more;     /* the receive goes on (multishot) */
} coro__rx_event;

/* The ring, waiting on poll_fd too (the epoll fd), or NULL where io_uring,
 * its provided buffers or its deferred task work are missing. */
CORO__HIDDEN coro__rx *coro__rx_open(int poll_fd);
CORO__HIDDEN void coro__rx_close(coro__rx *rx);

/* Starts fd's multishot receive (sent with the next wait). 0 or an error. */
CORO__HIDDEN int coro__rx_arm(coro__rx *rx, int fd, unsigned gen);
/* Asks the kernel to end fd's receive: a last event without `more` says
 * when it has. */
CORO__HIDDEN void coro__rx_cancel(coro__rx *rx, int fd, unsigned gen);

/* Test hook: ends the ring's poll of the poller's fd, as a kernel may. */
CORO__HIDDEN void coro__rx_end_poll(coro__rx *rx);

/* Submits what is queued, waits at most timeout ns (0: no wait; < 0: no
 * limit) and calls got(ctx, e) for every completion. Returns how many, or
 * -1 without waiting when the ring cannot watch the poller's fd (the
 * caller then waits in the poller and calls again with 0). */
CORO__HIDDEN int coro__rx_wait(coro__rx *rx, coro_time timeout,
                               void (*got)(void *ctx, const coro__rx_event *e), void *ctx);

/* The queue operations: push a filled buffer, take up to n bytes into iov
 * (buffers emptied go back to the ring), drop everything. */
CORO__HIDDEN void coro__rxq_push(coro__rx *rx, coro__rxq *q, int bid, unsigned len);
CORO__HIDDEN size_t coro__rxq_take(coro__rx *rx, coro__rxq *q, const struct iovec *iov, int n,
                                   size_t max);
CORO__HIDDEN void coro__rxq_drop(coro__rx *rx, coro__rxq *q);
/* Gives a buffer back to the ring. */
CORO__HIDDEN void coro__rx_recycle(coro__rx *rx, int bid);
/* The ring's buffers: all of them, and those the kernel may still fill. */
CORO__HIDDEN unsigned coro__rx_size(const coro__rx *rx);
CORO__HIDDEN unsigned coro__rx_spare(const coro__rx *rx);

#endif /* CORO_RX_H */
