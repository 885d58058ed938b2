/*
 * ahead.c - the receive-ahead policy: which TCP sockets the loop's ring
 * receives for (ring_rx.c), when a socket's receive is armed, paused and
 * ended, and when it goes back to read(). Its states and their moves are
 * drawn in fd.h.
 *
 * Design. With CORO_RUN_READ_AHEAD (or CORO_READ_AHEAD=1), the loop's wait
 * is its ring's (io_uring_enter, with the poller's fd one more request in
 * it) from the loop's first TCP socket on, which opens the ring: a loop
 * that only uses pipes, files or the pool never makes one. A TCP socket starts
 * fresh: its first coro read arms one multishot receive for its whole
 * life, and the kernel fills the loop's buffers inside the loop's own
 * wait; reads take from the socket's queue without a system call. A socket
 * that a task only waits on before reading (coro_fd_wait: its reader is
 * someone else's read()) goes back to read() instead, as does a socket
 * whose receive the ring cannot arm. Memory is bounded: at RX_CAP queued
 * buffers the receive is paused until the task reads, and when the ring
 * has no free buffer the socket reads with read() until half of them are
 * back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fd.h"
#include "hooks.h"

/* The most buffers a socket holds received ahead before its receive is
 * paused until its task reads (bounded memory per connection). */
#define RX_CAP 8

static int is_ahead_state(unsigned char rx)
{
    return rx != RX_OFF && rx != RX_STARVED;
}

int coro__fd_read_ahead(int fd)
{
    coro__loop *l = coro__loop_tls;
    struct coro__io *io = l != NULL ? l->io : NULL;

    return io != NULL && fd >= 0 && fd < io->cap && is_ahead_state(io->fds[fd].rx);
}

int coro__rx_test_end_poll(void)
{
    coro__loop *l = coro__loop_tls;

    if (l == NULL || l->io == NULL || l->io->rx == NULL)
        return CORO_ENOSYS;
    coro__rx_end_poll(l->io->rx);
    return 0;
}

/* fd goes back to read() (`next`: RX_OFF or RX_STARVED): epoll watches its
 * reads again. If it cannot, its readers get the error rather than wait
 * for an edge never reported. */
static void classic(struct coro__io *io, int fd, unsigned char next)
{
    coro__fd *s = &io->fds[fd];
    int err = coro__poller_watch(io->poller, fd, CORO__POLL_IN | CORO__POLL_OUT, 0);

    s->rx = next;
    if (err != 0) {
        s->rx = RX_ENDED; /* reads stay here, where the error waits */
        s->rx_err = err;
    }
}

static void got(void *ctx, const coro__rx_event *e);

/* The ring's wait: submits, waits, and hands every completion to got().
 * When the ring could not watch epoll (a submission refused) it waits in
 * epoll, then collects the ring's completions without waiting. */
static int ring_wait(struct coro__io *io, coro_time timeout)
{
    int n = coro__rx_wait(io->rx, timeout, got, io);

    if (n >= 0)
        return n;
    n = coro__poller_wait(io->poller, timeout, coro__fd_ready, io);
    return n + coro__rx_wait(io->rx, 0, got, io) + 1;
}

/* Whether the loop receives ahead: its flag, or the environment's
 * CORO_READ_AHEAD=1 / =0 for every loop; and a ring that opens. */
static int decide(struct coro__io *io)
{
    const char *env = getenv("CORO_READ_AHEAD");
    int on = (io->loop->flags & CORO_RUN_READ_AHEAD) != 0;

    if (env != NULL && (strcmp(env, "0") == 0 || strcmp(env, "1") == 0))
        on = env[0] == '1';
    if (!on || (io->rx = coro__rx_open(coro__poller_fd(io->poller))) == NULL)
        return -1;
    io->wait = ring_wait;
    return 1;
}

unsigned char coro__ahead_adopt(struct coro__io *io)
{
    if (io->ahead == 0)
        io->ahead = decide(io);
    return io->ahead > 0 ? RX_FRESH : RX_OFF;
}

void coro__ahead_forget(struct coro__io *io, int fd)
{
    coro__fd *s = &io->fds[fd];

    if (io->rx == NULL)
        return;
    if (s->rx == RX_ARMED || s->rx == RX_PAUSING)
        coro__rx_cancel(io->rx, fd, s->gen);
    coro__rxq_drop(io->rx, &s->rxq);
}

int coro__ahead_wait_read(struct coro__io *io, int fd)
{
    coro__fd *s = &io->fds[fd];

    if (s->rxq.first != 0 || s->rx == RX_ENDED)
        return 1;
    if (s->rx == RX_FRESH)
        classic(io, fd, RX_OFF); /* not read by coro yet: its reader may use read() */
    return 0;
}

long coro__ahead_read(int fd, const struct iovec *iov, int n, size_t want, coro_time deadline)
{
    coro_task *self;
    int err;
    coro__fd *s = coro__io_begin(fd, &self, &err);
    struct coro__io *io;

    if (s == NULL)
        return err;
    io = self->loop->io;
    for (;;) {
        s = &io->fds[fd];
        if (s->rx == RX_FRESH)
            s->rx = RX_IDLE;
        if (s->rxq.first != 0 || want == 0)
            return (long)coro__rxq_take(io->rx, &s->rxq, iov, n, coro__chunk(want));
        if (s->rx == RX_STARVED && coro__rx_spare(io->rx) >= coro__rx_size(io->rx) / 2 &&
            coro__poller_watch(io->poller, fd, CORO__POLL_OUT, 0) == 0)
            s->rx = RX_IDLE; /* buffers again: back from read() */
        switch (s->rx) {
        case RX_OFF:
        case RX_STARVED:
            return CORO__AHEAD_NO;
        case RX_ENDED: /* an error once, then the end of the stream */
            err = s->rx_err;
            s->rx_err = 0;
            return err;
        case RX_IDLE: /* the first read, or paused (full) and read since */
            if (coro__rx_arm(io->rx, fd, s->gen) != 0) {
                classic(io, fd, RX_OFF);
                return CORO__AHEAD_NO;
            }
            s->rx = RX_ARMED;
            break;
        default: /* armed: wait for its bytes */
            break;
        }
        if ((err = coro__fd_wait_again(self, fd, CORO_READ, deadline)) != 0)
            return err;
    }
}

/* A completion of the ring: bytes for a socket, its end, or events of the
 * nested poller. */
static void got(void *ctx, const coro__rx_event *e)
{
    struct coro__io *io = ctx;
    coro__fd *s;

    if (e->fd < 0) {
        while (coro__poller_wait(io->poller, 0, coro__fd_ready, io) == CORO__POLL_BATCH) {
        }
        return;
    }
    if (e->fd >= io->cap || (s = &io->fds[e->fd])->gen != e->gen || !s->adopted) {
        if (e->bid >= 0) /* a closed fd's: nobody reads it */
            coro__rx_recycle(io->rx, e->bid);
        return;
    }
    if (!e->more && (s->rx == RX_ARMED || s->rx == RX_PAUSING))
        s->rx = RX_IDLE;            /* the receive ended: the next read arms again */
    if (e->res <= 0 && e->bid >= 0) /* a buffer taken for nothing */
        coro__rx_recycle(io->rx, e->bid);
    if (e->res > 0 && e->bid >= 0) {
        coro__rxq_push(io->rx, &s->rxq, e->bid, (unsigned)e->res);
        if (s->rxq.n >= RX_CAP && s->rx == RX_ARMED) {
            coro__rx_cancel(io->rx, e->fd, s->gen); /* until its task reads */
            s->rx = RX_PAUSING;
        }
    } else if (e->res == 0) {
        s->rx = RX_ENDED;
    } else if (e->res == -ENOBUFS) { /* none free: read() until enough are back */
        classic(io, e->fd, RX_STARVED);
    } else if (e->res == -EINVAL || e->res == -EOPNOTSUPP) {
        io->ahead = -1; /* no multishot receive here: no new socket tries */
        classic(io, e->fd, RX_OFF);
    } else if (e->res != -ECANCELED) {
        s->rx = RX_ENDED;
        s->rx_err = e->res;
    }
    coro__waitq_fire_all(&s->readers, 0);
}
