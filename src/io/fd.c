/*
 * fd.c - the loop's fd table and fd waits: what every I/O call starts from.
 *
 * Design. The loop keeps a table indexed by fd: for each fd a task has used,
 * the FIFO queues of tasks waiting to read and to write. An fd is adopted
 * on first use (made non-blocking, watched by the poller for both
 * directions, edge-triggered, for good); a read or write is always tried
 * first (rw.c), and only EAGAIN parks the task in the fd's queue. When the
 * poller reports a direction ready, every task waiting on it is woken:
 * each retries, and those that find nothing wait again, in their order.
 * (Waking one would lose the edge if that one were canceled meanwhile.)
 * coro_fd_close wakes every waiter with CORO_EBADF before closing.
 *
 * The loop's wait is the poller's (here) until the loop's first TCP
 * socket; then, if the loop receives ahead and its ring opens, the ring's,
 * with the poller nested in it (ahead.c), for good. A task waiting on an fd counts as a wait
 * whose waker is outside the loop (CORO__WAIT_OUTSIDE), so an idle loop
 * blocks in that wait instead of declaring a deadlock, and it polls
 * between rounds without blocking while tasks are ready, so that I/O is
 * never starved by busy tasks.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd.h"
#include "hooks.h"

/* The poller alone: the loop's wait where nothing is received ahead. */
static int poller_wait(struct coro__io *io, coro_time timeout)
{
    return coro__poller_wait(io->poller, timeout, coro__fd_ready, io);
}

/* The loop's I/O state and its poller, made on first use; NULL with *err
 * set. */
static struct coro__io *io_of(coro__loop *l, int *err)
{
    struct coro__io *io = l->io;

    if (io != NULL)
        return io;
    *err = CORO_ENOMEM;
    if ((io = coro__malloc(sizeof *io)) == NULL)
        return NULL;
    memset(io, 0, sizeof *io);
    io->loop = l;
    if ((*err = coro__poller_open(&io->poller)) != 0) {
        coro__free(io);
        return NULL;
    }
    io->wait = poller_wait; /* until a socket is received ahead (ahead.c) */
    l->io = io;
    return io;
}

/* fd's state, the table grown to hold it; NULL without memory. */
static coro__fd *state(struct coro__io *io, int fd)
{
    if (fd >= io->cap) {
        int cap = io->cap > 0 ? io->cap : 64;
        coro__fd *t;

        while (cap <= fd)
            cap *= 2;
        t = coro__malloc((size_t)cap * sizeof *t);
        if (t == NULL)
            return NULL;
        memset(t, 0, (size_t)cap * sizeof *t);
        if (io->cap > 0)
            memcpy(t, io->fds, (size_t)io->cap * sizeof *t);
        for (int i = 0; i < io->cap; i++) { /* the queues' ends point into the old table */
            for (coro__waiter *w = t[i].readers.first; w != NULL; w = w->next)
                w->q = &t[i].readers;
            for (coro__waiter *w = t[i].writers.first; w != NULL; w = w->next)
                w->q = &t[i].writers;
        }
        coro__free(io->fds);
        io->fds = t;
        io->cap = cap;
    }
    return &io->fds[fd];
}

/* Makes fd usable by tasks: non-blocking, watched (the first use of fd
 * after coro__fd_of found it new). Its state, or NULL with *err set. */
CORO__NOINLINE coro__fd *coro__fd_adopt_new(coro__loop *l, int fd, int *err)
{
    struct coro__io *io = io_of(l, err);
    coro__fd *s;
    struct stat st;
    int flags;

    if (io == NULL)
        return NULL;
    *err = CORO_ENOMEM;
    if ((s = state(io, fd)) == NULL)
        return NULL;
    if (s->adopted)
        return s;
    if (fstat(fd, &st) != 0 || (flags = fcntl(fd, F_GETFL)) < 0) {
        *err = -errno;
        return NULL;
    }
    if (!(flags & O_NONBLOCK) &&
        CORO__SYSCALL(CORO__SYS_FCNTL, fcntl(fd, F_SETFL, flags | O_NONBLOCK)) != 0) {
        *err = -errno;
        return NULL;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && (*err = coro__poller_add(io->poller, fd)))
        return NULL;
    s->socket = S_ISSOCK(st.st_mode);
    if (s->socket) {
        int type = 0, domain = 0;
        socklen_t len = sizeof type, dlen = sizeof domain;

        s->tcp = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM &&
                 getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) == 0 &&
                 (domain == AF_INET || domain == AF_INET6);
    }
    s->adopted = 1;
    return s;
}

/* Forgets fd's state (it was closed), telling its waiters with
 * CORO_EBADF; what it had received ahead goes back to the ring, and any
 * completion still to come for it is stale. */
static void forget(struct coro__io *io, int fd)
{
    coro__fd *s = &io->fds[fd];
    unsigned gen = s->gen;

    coro__waitq_fire_all(&s->readers, CORO_EBADF);
    coro__waitq_fire_all(&s->writers, CORO_EBADF);
    coro__ahead_forget(io, fd);
    memset(s, 0, sizeof *s);
    s->gen = (gen + 1) & CORO__RX_GEN_MASK;
}

/* Watches fd and calls hook(l) whenever it becomes readable, in the loop,
 * between tasks (the completion eventfds of the offload pool and of
 * io_uring: whoever drains them must wake every waiter at once, or a
 * completion signalled between a drain and a wake is lost). 0 or an
 * error. */
int coro__io_hook(coro__loop *l, int fd, void (*hook)(coro__loop *l))
{
    int err = coro__fd_adopt(l, fd);

    if (err != 0)
        return err;
    l->io->fds[fd].hook = hook;
    /* Readable only: an eventfd is always writable, and each read of it
     * would raise an edge for that too, and wake the loop for nothing. */
    return coro__poller_watch(l->io->poller, fd, CORO__POLL_IN, 0);
}

/* Adopts a stream socket just made non-blocking by accept4 or socket (tcp:
 * TCP rather than Unix-domain): no need to ask the kernel what it is.
 * Whatever the table held for that number belonged to an fd closed behind
 * the loop's back: its waiters are told so. 0 or an error (fd is left
 * open). */
int coro__fd_adopt_socket(coro__loop *l, int fd, int tcp)
{
    int err;
    struct coro__io *io = io_of(l, &err);
    coro__fd *s;

    if (io == NULL)
        return err;
    if ((s = state(io, fd)) == NULL)
        return CORO_ENOMEM;
    forget(io, fd);
    if (tcp && (s->rx = coro__ahead_adopt(io)) != RX_OFF)
        /* Reads come from the ring, armed by the first (not before: a
         * receive would take the error a connect is to report). */
        err = coro__poller_watch(io->poller, fd, CORO__POLL_OUT, 1);
    else
        err = coro__poller_add(io->poller, fd);
    if (err != 0) {
        forget(io, fd);
        return err;
    }
    s->socket = s->adopted = 1;
    s->tcp = (unsigned char)(tcp != 0);
    return 0;
}

int coro__fd_adopt(coro__loop *l, int fd)
{
    int err;

    if (fd < 0)
        return CORO_EBADF;
    return coro__fd_of(l, fd, &err) != NULL ? 0 : err;
}

int coro__fd_canceled(coro__loop *l, int fd)
{
    struct coro__io *io = l->io;

    if (io != NULL && fd < io->cap && io->fds[fd].adopted)
        return CORO_ECANCELED;
    return fcntl(fd, F_GETFD) < 0 ? -errno : CORO_ECANCELED;
}

int coro_fd_wait_until(int fd, unsigned events, coro_time deadline)
{
    int err;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL)
        return err;
    if (fd < 0)
        return CORO_EBADF;
    if (events != CORO_READ && events != CORO_WRITE)
        return CORO_EINVAL;
    if (err != 0)
        return coro__fd_canceled(self->loop, fd);
    if (coro__fd_of(self->loop, fd, &err) == NULL)
        return err;
    if (events == CORO_READ && coro__ahead_wait_read(self->loop->io, fd))
        return 0; /* received ahead: readable now */
    return coro__fd_park(self, fd, events, deadline);
}

int coro_fd_wait(int fd, unsigned events)
{
    return coro_fd_wait_until(fd, events, CORO_NEVER);
}

int coro_fd_close(int fd)
{
    coro__loop *l = coro__loop_tls;
    struct coro__io *io = l != NULL ? l->io : NULL;

    if (fd < 0)
        return CORO_EBADF;
    if (io != NULL && fd < io->cap && io->fds[fd].adopted) {
        coro__poller_del(io->poller, fd);
        forget(io, fd);
    }
    return close(fd) == 0 || errno == EINTR ? 0 : -errno;
}

/* ---- the loop's side ---- */

void coro__fd_ready(void *ctx, int fd, unsigned events)
{
    struct coro__io *io = ctx;
    coro__fd *s;

    if (fd < 0 || fd >= io->cap)
        return;
    s = &io->fds[fd];
    if (s->hook != NULL) {
        s->hook(io->loop);
        return;
    }
    if (events & CORO__POLL_HUP)
        s->tcp = 0; /* an end already seen raises no new edge: stop tracking */
    s->drained &= (unsigned char)~((events & CORO__POLL_IN ? CORO_READ : 0) |
                                   (events & CORO__POLL_OUT ? CORO_WRITE : 0));
    if (events & CORO__POLL_IN)
        coro__waitq_fire_all(&s->readers, 0);
    if (events & CORO__POLL_OUT)
        coro__waitq_fire_all(&s->writers, 0);
}

int coro__io_poll(coro__loop *l, coro_time timeout)
{
    return l->io != NULL ? l->io->wait(l->io, timeout) : 0;
}

void coro__io_free(coro__loop *l)
{
    if (l->io == NULL)
        return;
    coro__rx_close(l->io->rx);
    coro__poller_close(l->io->poller);
    coro__free(l->io->fds);
    coro__free(l->io);
    l->io = NULL;
}
