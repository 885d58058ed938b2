/*
 * io.c - fd waits for tasks, and reads and writes that suspend only the
 * calling task.
 *
 * Design. The loop keeps a table indexed by fd: for each fd a task has used,
 * the FIFO queues of tasks waiting to read and to write. An fd is adopted
 * on first use (made non-blocking, watched by the poller for both
 * directions, edge-triggered, for good); a read or write is always tried
 * first, and only EAGAIN parks the task in the fd's queue. When the poller
 * reports a direction ready, every task waiting on it is woken: each
 * retries, and those that find nothing wait again, in their order. (Waking
 * one would lose the edge if that one were canceled meanwhile.)
 * coro_fd_close wakes every waiter with CORO_EBADF before closing.
 *
 * The scheduler asks this file whether tasks wait on I/O (then an idle
 * loop blocks in the poller instead of declaring a deadlock) and polls
 * between rounds without blocking while tasks are ready, so that I/O is
 * never starved by busy tasks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "poll.h"
#include "rx.h"
#include "sched.h"
#include "hooks.h"

/* The most buffers a socket holds received ahead before its receive is
 * paused until its task reads (bounded memory per connection). */
#define RX_CAP 8

typedef struct fd_state {
    coro_waitq readers, writers;
    void (*hook)(coro__loop *l); /* called instead when readable (coro__io_hook) */
    unsigned char adopted;       /* non-blocking and watched */
    unsigned char socket;        /* writes use send(MSG_NOSIGNAL) */
    unsigned char tcp;           /* TCP: a short transfer means drained (reset on hang-up) */
    unsigned char drained;       /* CORO_READ / CORO_WRITE: would say EAGAIN until the
                                    poller's next edge for that direction */
    unsigned char ahead;         /* received ahead (rx.h): reads take from rxq */
    unsigned char armed;         /* its multishot receive is in the kernel */
    unsigned char pausing;       /* ... and asked to end (rxq is full) */
    unsigned char rx_end;        /* the receive ended: EOF, or rx_err */
    unsigned char rx_used;       /* coro has read it (coro_fd_wait leaves it ahead) */
    unsigned char starved;       /* went back to read() for want of buffers, for now */
    int rx_err;                  /* the error it ended with, reported once */
    unsigned gen;                /* bumped when fd is closed: older completions are stale */
    coro__rxq rxq;               /* received, not yet read */
} fd_state;

struct coro__io {
    coro__poller *poller;
    fd_state *fds;
    int cap;
    coro__loop *loop;
    coro__rx *rx; /* receiving ahead: then the loop waits in its ring */
    int rx_state; /* 0: not tried yet; 1: on; -1: off for this loop */
};

static struct coro__io *io_of(coro__loop *l)
{
    if (l->io == NULL && (l->io = coro__malloc(sizeof *l->io)) != NULL) {
        memset(l->io, 0, sizeof *l->io);
        l->io->loop = l;
    }
    return l->io;
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
    return 0;
}

/* fd's state, the table grown to hold it; NULL without memory. */
static fd_state *state(struct coro__io *io, int fd)
{
    if (fd >= io->cap) {
        int cap = io->cap > 0 ? io->cap : 64;
        fd_state *t;

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
 * after adopt() found it new). Its state, or NULL with *err set. */
static CORO__NOINLINE fd_state *adopt_new(coro__loop *l, int fd, int *err)
{
    struct coro__io *io = io_of(l);
    fd_state *s;
    struct stat st;
    int flags;

    *err = CORO_ENOMEM;
    if (io == NULL || (s = state(io, fd)) == NULL)
        return NULL;
    if (s->adopted)
        return s;
    if (fstat(fd, &st) != 0 || (flags = fcntl(fd, F_GETFL)) < 0) {
        *err = -errno;
        return NULL;
    }
    if (io->poller == NULL && (*err = coro__poller_open(&io->poller)) != 0)
        return NULL;
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

/* fd's state, adopting fd on its first use (every I/O call starts here:
 * the already-adopted case is a few instructions, inlined). */
static inline fd_state *adopt(coro__loop *l, int fd, int *err)
{
    struct coro__io *io = l->io;

    if (CORO__LIKELY(io != NULL && fd < io->cap && io->fds[fd].adopted))
        return &io->fds[fd];
    return adopt_new(l, fd, err);
}

/* Forgets fd's state (it was closed), telling its waiters with
 * CORO_EBADF; what it had received ahead goes back to the ring, and any
 * completion still to come for it is stale. */
static void forget(struct coro__io *io, int fd)
{
    fd_state *s = &io->fds[fd];
    unsigned gen = s->gen;

    coro__waitq_fire_all(&s->readers, CORO_EBADF);
    coro__waitq_fire_all(&s->writers, CORO_EBADF);
    if (io->rx != NULL) {
        if (s->armed)
            coro__rx_cancel(io->rx, fd, gen);
        coro__rxq_drop(io->rx, &s->rxq);
    }
    memset(s, 0, sizeof *s);
    s->gen = (gen + 1) & CORO__RX_GEN_MASK;
}

int coro__fd_read_ahead(int fd)
{
    coro__loop *l = coro__loop_tls;
    struct coro__io *io = l != NULL ? l->io : NULL;

    return io != NULL && fd >= 0 && fd < io->cap && io->fds[fd].ahead;
}

int coro__rx_test_end_poll(void)
{
    coro__loop *l = coro__loop_tls;

    if (l == NULL || l->io == NULL || l->io->rx == NULL)
        return CORO_ENOSYS;
    coro__rx_end_poll(l->io->rx);
    return 0;
}

/* fd goes back to read(): epoll watches its reads again (if it cannot,
 * its readers get the error rather than wait for an edge never reported). */
static void classic(struct coro__io *io, int fd)
{
    fd_state *s = &io->fds[fd];
    int err = coro__poller_watch(io->poller, fd, CORO__POLL_IN | CORO__POLL_OUT, 0);

    s->ahead = 0;
    if (err != 0) {
        s->ahead = 1; /* reads stay here, where the error waits */
        s->rx_end = 1;
        s->rx_err = err;
    }
}

/* Whether sockets are received ahead (CORO_RUN_READ_AHEAD), opening the
 * ring on first use. */
static coro__rx *rx_of(struct coro__io *io)
{
    if (io->rx_state == 0) {
        const char *env = getenv("CORO_READ_AHEAD"), *uring = getenv("CORO_IO_URING");
        int on = (io->loop->flags & CORO_RUN_READ_AHEAD) != 0;

        if (env != NULL && (strcmp(env, "0") == 0 || strcmp(env, "1") == 0))
            on = env[0] == '1';
        if (uring != NULL && strcmp(uring, "0") == 0)
            on = 0;
        io->rx_state = -1;
        if (on && (io->rx = coro__rx_open(coro__poller_fd(io->poller))) != NULL)
            io->rx_state = 1;
    }
    return io->rx_state > 0 ? io->rx : NULL;
}

/* Adopts a stream socket just made non-blocking by accept4 or socket (tcp:
 * TCP rather than Unix-domain): no need to ask the kernel what it is.
 * Whatever the table held for that number belonged to an fd closed behind
 * the loop's back: its waiters are told so. 0 or an error (fd is left
 * open). */
int coro__fd_adopt_socket(coro__loop *l, int fd, int tcp)
{
    struct coro__io *io = io_of(l);
    fd_state *s;
    int err;

    if (io == NULL || (s = state(io, fd)) == NULL)
        return CORO_ENOMEM;
    if (io->poller == NULL && (err = coro__poller_open(&io->poller)) != 0)
        return err;
    forget(io, fd);
    if (tcp && rx_of(io) != NULL) {
        /* Reads come from the ring, armed by the first (not before: a
         * receive would take the error a connect is to report). */
        s->ahead = 1;
        err = coro__poller_watch(io->poller, fd, CORO__POLL_OUT, 1);
    } else {
        err = coro__poller_add(io->poller, fd);
    }
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
    return adopt(l, fd, &err) != NULL ? 0 : err;
}

/* The running task self waits for `events` (CORO_READ or CORO_WRITE) on
 * fd, which is adopted: the park under every wait for an fd, once its
 * caller has checked its arguments. */
static int park_on(coro_task *self, int fd, unsigned events, coro_time deadline)
{
    fd_state *s = &self->loop->io->fds[fd];

    return coro__wait(self, events == CORO_READ ? &s->readers : &s->writers, NULL, 1,
                      events == CORO_READ ? "fd read" : "fd write", (void *)(long)fd, deadline,
                      CORO__WAIT_OUTSIDE | CORO__WAIT_CANCEL);
}

int coro_fd_wait_until(int fd, unsigned events, coro_time deadline)
{
    int err, bad;
    coro_task *self = coro__blocking_begin(&err);
    fd_state *s;

    if (self == NULL)
        return err;
    if (fd < 0)
        return CORO_EBADF;
    if (events != CORO_READ && events != CORO_WRITE)
        return CORO_EINVAL;
    if ((s = adopt(self->loop, fd, &bad)) == NULL)
        return bad;
    if (err != 0)
        return err;
    if (events == CORO_READ && (s->rxq.first != 0 || s->rx_end))
        return 0; /* received ahead: readable now */
    if (events == CORO_READ && s->ahead && !s->rx_used)
        classic(self->loop->io, fd); /* not read by coro yet: its reader may use read() */
    return park_on(self, fd, events, deadline);
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

/* ---- reads and writes ---- */

/* Test hook (internal.h): every read and write moves at most io_chunk
 * bytes (0: no limit). Per thread, like the loop. initial-exec: read on
 * every I/O call (no __tls_get_addr). */
static __thread size_t io_chunk __attribute__((tls_model("initial-exec")));

void coro__io_inject(size_t chunk)
{
    io_chunk = chunk;
}

static size_t chunk(size_t n)
{
    return io_chunk > 0 && n > io_chunk ? io_chunk : n;
}

/* The start of every I/O call: the running task and fd's state. */
static fd_state *begin(int fd, coro_task **self, int *err)
{
    int canceled;
    fd_state *s;

    if ((*self = coro__blocking_begin(&canceled)) == NULL) {
        *err = canceled;
        return NULL;
    }
    if (fd < 0) {
        *err = CORO_EBADF;
        return NULL;
    }
    if ((s = adopt((*self)->loop, fd, err)) == NULL || (*err = canceled) != 0)
        return NULL;
    return s;
}

/* coro_fd_wait_until for an I/O call's loop, whose fd was adopted at its
 * start: only what may have changed since is checked again (the task was
 * canceled while it ran, or fd was closed while it waited). */
static int wait_again(coro_task *self, int fd, unsigned dir, coro_time deadline)
{
    struct coro__io *io = self->loop->io;

    if (self->canceled)
        return CORO_ECANCELED;
    if (fd >= io->cap || !io->fds[fd].adopted)
        return CORO_EBADF;
    return park_on(self, fd, dir, deadline);
}

/* The loop of every I/O call: op() until it does not say EAGAIN, waiting
 * for `dir` in between; EINTR retried. want is what op asks to move (0:
 * not a plain transfer): when a TCP socket moves less, its buffer was
 * drained (or filled), so the next call waits for the poller's edge
 * instead of making a system call that would only say EAGAIN. The edge is
 * not lost: data that comes after the short transfer raises a new one. */
long coro__io_retry(int fd, unsigned dir, coro_time deadline, coro__io_op op, void *ctx,
                    size_t want)
{
    coro_task *self;
    int err, socket;
    fd_state *s = begin(fd, &self, &err);
    struct coro__io *io;

    if (s == NULL)
        return err;
    io = self->loop->io; /* s itself moves when another task grows the table */
    socket = s->socket;
    if (!s->tcp)
        want = 0; /* Unix sockets may stop short at a message boundary */
    for (;;) {
        long r;

        if (want > 0 && (io->fds[fd].drained & dir)) {
            if ((err = wait_again(self, fd, dir, deadline)) != 0)
                return err;
            if (fd >= io->cap || !io->fds[fd].adopted)
                return CORO_EBADF;
        }
        r = CORO__SYSCALL(dir == CORO_READ ? CORO__SYS_READ : CORO__SYS_WRITE, op(fd, ctx, socket));
        if (r >= 0) {
            if (r > 0 && (size_t)r < want && io->fds[fd].tcp)
                io->fds[fd].drained |= (unsigned char)dir;
            return r;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if ((err = wait_again(self, fd, dir, deadline)) != 0)
            return err;
    }
}

/* ---- reads of sockets received ahead (rx.h) ---- */

static void ready(void *ctx, int fd, unsigned events);

#define CLASSIC LONG_MIN /* ahead_read: fd is (now) read with read() */

/* Whether fd is received ahead or still holds bytes received so. */
static inline int is_ahead(int fd)
{
    coro__loop *l = coro__loop_tls;
    struct coro__io *io = l != NULL ? l->io : NULL;

    return io != NULL && fd >= 0 && fd < io->cap &&
           (io->fds[fd].ahead || io->fds[fd].rxq.first || io->fds[fd].starved);
}

/* A read of fd, received ahead: up to want bytes into iov from what the
 * ring received, waiting for some while there is none. CLASSIC when fd
 * must be read with read() instead. */
static long ahead_read(int fd, const struct iovec *iov, int n, size_t want, coro_time deadline)
{
    coro_task *self;
    int err;
    fd_state *s = begin(fd, &self, &err);
    struct coro__io *io;

    if (s == NULL)
        return err;
    io = self->loop->io;
    for (;;) {
        s = &io->fds[fd];
        s->rx_used = 1;
        if (s->rxq.first != 0 || want == 0)
            return (long)coro__rxq_take(io->rx, &s->rxq, iov, n, chunk(want));
        if (!s->ahead && s->starved && coro__rx_spare(io->rx) >= coro__rx_size(io->rx) / 2 &&
            coro__poller_watch(io->poller, fd, CORO__POLL_OUT, 0) == 0)
            s->ahead = 1, s->starved = 0; /* buffers again: back from read() */
        if (!s->ahead)
            return CLASSIC;
        if (s->rx_end) { /* an error once, then the end of the stream */
            err = s->rx_err;
            s->rx_err = 0;
            return err;
        }
        if (!s->armed) { /* the first read, or paused (full) and read since */
            if (coro__rx_arm(io->rx, fd, s->gen) != 0) {
                classic(io, fd);
                return CLASSIC;
            }
            s->armed = 1;
        }
        if ((err = wait_again(self, fd, CORO_READ, deadline)) != 0)
            return err;
    }
}

/* A completion of the ring: bytes for a socket, its end, or events of the
 * nested poller. */
static void rx_got(void *ctx, const coro__rx_event *e)
{
    struct coro__io *io = ctx;
    fd_state *s;

    if (e->fd < 0) {
        while (coro__poller_wait(io->poller, 0, ready, io) == CORO__POLL_BATCH) {
        }
        return;
    }
    if (e->fd >= io->cap || (s = &io->fds[e->fd])->gen != e->gen || !s->adopted) {
        if (e->bid >= 0) /* a closed fd's: nobody reads it */
            coro__rx_recycle(io->rx, e->bid);
        return;
    }
    if (!e->more)
        s->armed = s->pausing = 0;
    if (e->res <= 0 && e->bid >= 0) /* a buffer taken for nothing */
        coro__rx_recycle(io->rx, e->bid);
    if (e->res > 0 && e->bid >= 0) {
        coro__rxq_push(io->rx, &s->rxq, e->bid, (unsigned)e->res);
        if (s->rxq.n >= RX_CAP && s->armed && !s->pausing) {
            coro__rx_cancel(io->rx, e->fd, s->gen); /* until its task reads */
            s->pausing = 1;
        }
    } else if (e->res == 0) {
        s->rx_end = 1;
    } else if (e->res == -ENOBUFS) { /* none free: read() until enough are back */
        s->starved = 1;
        classic(io, e->fd);
    } else if (e->res == -EINVAL || e->res == -EOPNOTSUPP) {
        io->rx_state = -1; /* no multishot receive here: no new socket tries */
        classic(io, e->fd);
    } else if (e->res != -ECANCELED) {
        s->rx_end = 1;
        s->rx_err = e->res;
    }
    coro__waitq_fire_all(&s->readers, 0);
}

struct span {
    void *buf;
    size_t n; /* already cut to the test hook's chunk */
};

static long do_read(int fd, void *ctx, int socket)
{
    struct span *sp = ctx;

    (void)socket;
    return (long)read(fd, sp->buf, sp->n);
}

long coro_read_until(int fd, void *buf, size_t n, coro_time deadline)
{
    struct span sp = {buf, chunk(n)};

    if (buf == NULL && n > 0)
        return fd < 0 ? CORO_EBADF : CORO_EINVAL;
    if (is_ahead(fd)) {
        struct iovec v;
        long r;

        v.iov_base = buf;
        v.iov_len = n;
        if ((r = ahead_read(fd, &v, 1, n, deadline)) != CLASSIC)
            return r;
    }
    return coro__io_retry(fd, CORO_READ, deadline, do_read, &sp, sp.n);
}

long coro_read(int fd, void *buf, size_t n)
{
    return coro_read_until(fd, buf, n, CORO_NEVER);
}

static long do_write(int fd, void *ctx, int socket)
{
    struct span *sp = ctx;

    /* send(MSG_NOSIGNAL): a socket whose peer left is EPIPE, not SIGPIPE */
    return (long)(socket ? send(fd, sp->buf, sp->n, MSG_NOSIGNAL) : write(fd, sp->buf, sp->n));
}

long coro_write_until(int fd, const void *buf, size_t n, coro_time deadline)
{
    struct span sp = {(void *)buf, chunk(n)};

    if (buf == NULL && n > 0)
        return fd < 0 ? CORO_EBADF : CORO_EINVAL;
    return coro__io_retry(fd, CORO_WRITE, deadline, do_write, &sp, sp.n);
}

long coro_write(int fd, const void *buf, size_t n)
{
    return coro_write_until(fd, buf, n, CORO_NEVER);
}

int coro_write_all_until(int fd, const void *buf, size_t n, coro_time deadline, size_t *written)
{
    const char *p = buf;
    size_t done = 0;
    long r = 0;

    while (done < n) { /* short writes: on with the rest */
        r = coro_write_until(fd, p + done, n - done, deadline);
        if (r < 0)
            break;
        done += (size_t)r;
    }
    if (written != NULL)
        *written = done;
    return r < 0 ? (int)r : 0;
}

int coro_write_all(int fd, const void *buf, size_t n)
{
    return coro_write_all_until(fd, buf, n, CORO_NEVER, NULL);
}

/* ---- the loop's side ---- */

static void ready(void *ctx, int fd, unsigned events)
{
    struct coro__io *io = ctx;

    if (fd < 0 || fd >= io->cap)
        return;
    if (io->fds[fd].hook != NULL) {
        io->fds[fd].hook(io->loop);
        return;
    }
    if (events & CORO__POLL_HUP)
        io->fds[fd].tcp = 0; /* an end already seen raises no new edge: stop tracking */
    io->fds[fd].drained &= (unsigned char)~((events & CORO__POLL_IN ? CORO_READ : 0) |
                                            (events & CORO__POLL_OUT ? CORO_WRITE : 0));
    if (events & CORO__POLL_IN)
        coro__waitq_fire_all(&io->fds[fd].readers, 0);
    if (events & CORO__POLL_OUT)
        coro__waitq_fire_all(&io->fds[fd].writers, 0);
}

int coro__io_poll(coro__loop *l, coro_time timeout)
{
    if (l->io == NULL || l->io->poller == NULL)
        return 0;
    if (l->io->rx != NULL) {
        int n = coro__rx_wait(l->io->rx, timeout, rx_got, l->io);

        if (n >= 0)
            return n;
        /* The ring could not watch epoll (a submission refused): wait in
         * epoll, then collect the ring's completions without waiting. */
        n = coro__poller_wait(l->io->poller, timeout, ready, l->io);
        return n + coro__rx_wait(l->io->rx, 0, rx_got, l->io) + 1;
    }
    return coro__poller_wait(l->io->poller, timeout, ready, l->io);
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

#ifndef IOV_MAX
#define IOV_MAX 1024 /* Linux's UIO_MAXIOV */
#endif

struct vec {
    const struct iovec *iov;
    int n;
};

/* The bytes iov asks for (0, no tracking, if the sum overflows). */
static size_t total(const struct iovec *iov, int n)
{
    size_t sum = 0;

    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len > SSIZE_MAX - sum)
            return 0;
        sum += iov[i].iov_len;
    }
    return sum;
}

static long do_readv(int fd, void *ctx, int socket)
{
    struct vec *v = ctx;

    (void)socket;
    return (long)readv(fd, v->iov, v->n);
}

static long do_writev(int fd, void *ctx, int socket)
{
    struct vec *v = ctx;
    struct msghdr m;

    if (!socket)
        return (long)writev(fd, v->iov, v->n);
    memset(&m, 0, sizeof m);
    m.msg_iov = (struct iovec *)v->iov;
    m.msg_iovlen = (size_t)v->n;
    return (long)sendmsg(fd, &m, MSG_NOSIGNAL); /* writev without SIGPIPE */
}

long coro_readv_until(int fd, const struct iovec *iov, int n, coro_time deadline)
{
    struct vec v = {iov, n};
    size_t want;

    if (iov == NULL || n <= 0 || n > IOV_MAX)
        return CORO_EINVAL;
    want = total(iov, n);
    for (int i = 0; want == 0 && i < n; i++)
        if (iov[i].iov_len > 0)
            return CORO_EINVAL; /* more than SSIZE_MAX in all, as POSIX says */
    if (is_ahead(fd)) {
        long r = ahead_read(fd, iov, n, want, deadline);

        if (r != CLASSIC)
            return r;
    }
    return coro__io_retry(fd, CORO_READ, deadline, do_readv, &v, want);
}

long coro_readv(int fd, const struct iovec *iov, int n)
{
    return coro_readv_until(fd, iov, n, CORO_NEVER);
}

long coro_writev_until(int fd, const struct iovec *iov, int n, coro_time deadline)
{
    struct vec v = {iov, n};

    if (iov == NULL || n <= 0 || n > IOV_MAX)
        return CORO_EINVAL;
    return coro__io_retry(fd, CORO_WRITE, deadline, do_writev, &v, total(iov, n));
}

long coro_writev(int fd, const struct iovec *iov, int n)
{
    return coro_writev_until(fd, iov, n, CORO_NEVER);
}

struct sendfile_args {
    int in_fd;
    long long *offset;
    size_t count;
};

static long do_sendfile(int fd, void *ctx, int socket)
{
    struct sendfile_args *a = ctx;
    off_t off = a->offset != NULL ? (off_t)*a->offset : 0;
    ssize_t r = sendfile(fd, a->in_fd, a->offset != NULL ? &off : NULL, a->count);

    (void)socket;
    if (r > 0 && a->offset != NULL)
        *a->offset = (long long)off;
    return (long)r;
}

long coro_sendfile_until(int out_fd, int in_fd, long long *offset, size_t count, coro_time deadline)
{
    struct sendfile_args a = {in_fd, offset, count};

    if (in_fd < 0)
        return CORO_EBADF;
    return coro__io_retry(out_fd, CORO_WRITE, deadline, do_sendfile, &a, 0);
}

long coro_sendfile(int out_fd, int in_fd, long long *offset, size_t count)
{
    return coro_sendfile_until(out_fd, in_fd, offset, count, CORO_NEVER);
}
