/*
 * rw.c - reads and writes that suspend only the calling task: read,
 * write, their vector forms, sendfile, and the retry loop under every
 * call of this layer that moves bytes (accept, connect and UDP use it too).
 *
 * Design. A call tries its system call first and waits only after EAGAIN,
 * for the poller's next edge in that direction (fd.c); EINTR is retried.
 * A read of a socket received ahead takes from what the ring received
 * (ahead.c) and falls back here when the socket is read with read().
 */
#include <errno.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fd.h"
#include "hooks.h"

/* Test hook (hooks.h): every read and write moves at most this many bytes
 * (0: no limit). Per thread, like the loop. */
__thread size_t coro__io_chunk __attribute__((tls_model("initial-exec")));

void coro__io_inject(size_t chunk)
{
    coro__io_chunk = chunk;
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
    coro__fd *s = coro__io_begin(fd, &self, &err);
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
            if ((err = coro__fd_wait_again(self, fd, dir, deadline)) != 0)
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
        if ((err = coro__fd_wait_again(self, fd, dir, deadline)) != 0)
            return err;
    }
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
    struct span sp = {buf, coro__chunk(n)};

    if (buf == NULL && n > 0)
        return coro__refuse(fd < 0 ? CORO_EBADF : CORO_EINVAL);
    if (coro__ahead(fd)) {
        struct iovec v;
        long r;

        v.iov_base = buf;
        v.iov_len = n;
        if ((r = coro__ahead_read(fd, &v, 1, n, deadline)) != CORO__AHEAD_NO)
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
    struct span sp = {(void *)buf, coro__chunk(n)};

    if (buf == NULL && n > 0)
        return coro__refuse(fd < 0 ? CORO_EBADF : CORO_EINVAL);
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
        return coro__refuse(CORO_EINVAL);
    want = total(iov, n);
    for (int i = 0; want == 0 && i < n; i++)
        if (iov[i].iov_len > 0)
            return coro__refuse(CORO_EINVAL); /* more than SSIZE_MAX in all, as POSIX says */
    if (coro__ahead(fd)) {
        long r = coro__ahead_read(fd, iov, n, want, deadline);

        if (r != CORO__AHEAD_NO)
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
        return coro__refuse(CORO_EINVAL);
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
        return coro__refuse(CORO_EBADF);
    return coro__io_retry(out_fd, CORO_WRITE, deadline, do_sendfile, &a, 0);
}

long coro_sendfile(int out_fd, int in_fd, long long *offset, size_t count)
{
    return coro_sendfile_until(out_fd, in_fd, offset, count, CORO_NEVER);
}
