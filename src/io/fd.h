/*
 * fd.h - what the I/O layer's files share: the loop's fd table (fd.c), the
 * start and the wait of every I/O call, and the receive-ahead policy's
 * entry points (ahead.c). Not for the runtime: it sees sched.h's calls.
 */
#ifndef CORO_IO_FD_H
#define CORO_IO_FD_H

#include <limits.h>
#include <sys/uio.h>

#include "poll.h"
#include "rx.h"
#include "sched.h"

/*
 * A socket's receive-ahead state (ahead.c). Zero, as a fresh table entry
 * is, is RX_OFF.
 *
 *   a TCP socket adopted by a loop
 *   that receives ahead                      any other fd
 *          |                                      |
 *          v       coro_fd_wait(READ) first       v
 *      RX_FRESH ------------------------------> RX_OFF <-------------+
 *          | its first read                       ^                  |
 *          v                                      | arm refused      |
 *  +---> RX_IDLE ---------------------------------+                  |
 *  |       | a read arms its multishot receive                       |
 *  |       v                                                         |
 *  |   RX_ARMED ---- RX_CAP buffers queued ----> RX_PAUSING          |
 *  |       |                                         |               |
 *  |       +--------------------+--------------------+               |
 *  |                            | the receive ends (no "more"):      |
 *  +------ canceled, or bytes --+-- EINVAL (no multishot receive) ---+
 *  |                            +-- ENOBUFS --------> RX_STARVED
 *  |                            +-- 0 or an error --> RX_ENDED
 *  |                                                     |
 *  +------- a read, half the buffers free again ---------+ (RX_STARVED)
 *
 * RX_STARVED and RX_OFF read with read(); an fd that epoll cannot take
 * back for that is RX_ENDED with epoll's error. RX_ENDED reports its error
 * once, then the end of the stream. Bytes received and not yet read stay
 * in the fd's rxq whatever the state, and are read first. Closing the fd
 * cancels an armed receive and returns to RX_OFF.
 */
enum coro__rx_state {
    RX_OFF,     /* read with read(): not TCP, no ring, or it refused */
    RX_FRESH,   /* received ahead, not read by coro yet, nothing armed */
    RX_IDLE,    /* received ahead, nothing armed: the next read arms */
    RX_ARMED,   /* its multishot receive is in the kernel */
    RX_PAUSING, /* ... asked to end: RX_CAP buffers wait for its task */
    RX_STARVED, /* read with read() for want of buffers, for now */
    RX_ENDED    /* the receive ended: end of stream, or rx_err */
};

typedef struct coro__fd {
    coro_waitq readers, writers;
    void (*hook)(coro__loop *l); /* called instead when readable (coro__io_hook) */
    unsigned char adopted;       /* non-blocking and watched */
    unsigned char socket;        /* writes use send(MSG_NOSIGNAL) */
    unsigned char tcp;           /* TCP: a short transfer means drained (reset on hang-up) */
    unsigned char drained;       /* CORO_READ / CORO_WRITE: would say EAGAIN until the
                                    poller's next edge for that direction */
    unsigned char rx;            /* enum coro__rx_state */
    int rx_err;                  /* the error it ended with, reported once */
    unsigned gen;                /* bumped when fd is closed: older completions are stale */
    coro__rxq rxq;               /* received, not yet read */
} coro__fd;

struct coro__io {
    coro__poller *poller;
    coro__fd *fds;
    int cap;
    coro__loop *loop;
    coro__io_wait wait; /* the poller's; the ring's once it receives ahead */
    coro__rx *rx;       /* receiving ahead: then the loop waits in its ring */
    int ahead;          /* 0: not decided yet (no TCP socket so far); 1: sockets
                           are received ahead; -1: they are not (off, no ring, or
                           the kernel has no multishot receive) */
};

/* fd.c: adopts fd on its first use (the already-adopted case inline). */
CORO__HIDDEN coro__fd *coro__fd_adopt_new(coro__loop *l, int fd, int *err);

static inline coro__fd *coro__fd_of(coro__loop *l, int fd, int *err)
{
    struct coro__io *io = l->io;

    if (CORO__LIKELY(io != NULL && fd < io->cap && io->fds[fd].adopted))
        return &io->fds[fd];
    return coro__fd_adopt_new(l, fd, err);
}

/* The start of every I/O call on an fd: the running task and fd's state,
 * or NULL with *err (the loop, then fd, then the cancellation). */
static inline coro__fd *coro__io_begin(int fd, coro_task **self, int *err)
{
    int canceled;

    if ((*self = coro__blocking_begin(&canceled)) == NULL) {
        *err = canceled;
        return NULL;
    }
    if (fd < 0) {
        *err = CORO_EBADF;
        return NULL;
    }
    if (CORO__UNLIKELY(canceled != 0)) {
        *err = coro__fd_canceled((*self)->loop, fd);
        return NULL;
    }
    return coro__fd_of((*self)->loop, fd, err);
}

/* The running task self waits for `events` (CORO_READ or CORO_WRITE) on
 * fd, which is adopted. */
static inline int coro__fd_park(coro_task *self, int fd, unsigned events, coro_time deadline)
{
    coro__fd *s = &self->loop->io->fds[fd];

    return coro__wait(self, events == CORO_READ ? &s->readers : &s->writers, NULL, 1,
                      events == CORO_READ ? "fd read" : "fd write", (void *)(long)fd, deadline,
                      CORO__WAIT_OUTSIDE | CORO__WAIT_CANCEL);
}

/* coro_fd_wait_until for an I/O call's loop, whose fd was adopted at its
 * start: only what may have changed since is checked again (the task was
 * canceled while it ran, or fd was closed while it waited). */
static inline int coro__fd_wait_again(coro_task *self, int fd, unsigned dir, coro_time deadline)
{
    struct coro__io *io = self->loop->io;

    if (self->canceled)
        return CORO_ECANCELED;
    if (fd >= io->cap || !io->fds[fd].adopted)
        return CORO_EBADF;
    return coro__fd_park(self, fd, dir, deadline);
}

/* fd.c: the poller's report for fd, for a backend's wait. */
CORO__HIDDEN void coro__fd_ready(void *io, int fd, unsigned events);

/* The test hook's cut (hooks.h): every read and write moves at most this
 * many bytes (0: no limit). initial-exec: read on every I/O call. */
CORO__HIDDEN extern __thread size_t coro__io_chunk __attribute__((tls_model("initial-exec")));

static inline size_t coro__chunk(size_t n)
{
    return coro__io_chunk > 0 && n > coro__io_chunk ? coro__io_chunk : n;
}

/* ahead.c: the receive-ahead policy. */

/* What a TCP socket just adopted starts as: RX_FRESH or RX_OFF. The
 * loop's first decides, once, whether the loop receives ahead
 * (CORO_RUN_READ_AHEAD, CORO_READ_AHEAD) and if so opens the ring, whose
 * wait becomes the loop's. */
CORO__HIDDEN unsigned char coro__ahead_adopt(struct coro__io *io);
/* fd is closed: its receive canceled, its bytes back to the ring. */
CORO__HIDDEN void coro__ahead_forget(struct coro__io *io, int fd);
/* coro_fd_wait(fd, CORO_READ): 1 if fd is readable now from what was
 * received ahead; a fresh socket goes back to read() first. */
CORO__HIDDEN int coro__ahead_wait_read(struct coro__io *io, int fd);

/* Whether fd is received ahead or still holds bytes received so. */
static inline int coro__ahead(int fd)
{
    coro__loop *l = coro__loop_tls;
    struct coro__io *io = l != NULL ? l->io : NULL;

    return io != NULL && fd >= 0 && fd < io->cap &&
           (io->fds[fd].rx != RX_OFF || io->fds[fd].rxq.first != 0);
}

/* A read of fd, received ahead: up to want bytes into iov from what the
 * ring received, waiting for some while there is none. CORO__AHEAD_NO
 * when fd must be read with read() instead. */
#define CORO__AHEAD_NO LONG_MIN
CORO__HIDDEN long coro__ahead_read(int fd, const struct iovec *iov, int n, size_t want,
                                   coro_time deadline);

#endif /* CORO_IO_FD_H */
