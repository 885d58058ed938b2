/*
 * net.c - sockets for tasks: TCP and Unix-domain listen, accept and
 * connect, each with a deadline form, on non-blocking sockets whose reads
 * and writes are rw.c's.
 *
 * Addresses are numeric (an IPv4 or IPv6 literal, or NULL for "any" when
 * listening): a name lookup blocks in getaddrinfo, and belongs on the
 * offload pool with a deadline of its own, not here.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sched.h"
#include "hooks.h"

/* A numeric address for host:port into *ss. 0 or CORO_EINVAL. */
static int numeric(const char *host, int port, int passive, struct sockaddr_storage *ss,
                   socklen_t *len)
{
    struct addrinfo hints, *ai = NULL;
    char service[16];

    if (port < 0 || port > 65535)
        return CORO_EINVAL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0 || ai == NULL)
        return CORO_EINVAL;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int unix_address(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
    size_t n = path != NULL ? strlen(path) : 0;

    if (n == 0 || n >= sizeof sun->sun_path)
        return CORO_EINVAL;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

/* A non-blocking socket of type bound to sa, listening when backlog >= 0
 * (0: SOMAXCONN). The fd, or a negative errno code. */
static int bound(const struct sockaddr *sa, socklen_t len, int type, int backlog)
{
    int fd = CORO__SYSCALL(CORO__SYS_SOCKET,
                           socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int one = 1, err;

    if (fd < 0)
        return -errno;
    if (type == SOCK_STREAM && sa->sa_family != AF_UNIX)
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, sa, len) != 0 ||
        (backlog >= 0 && listen(fd, backlog > 0 ? backlog : SOMAXCONN) != 0)) {
        err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static int listen_on(const struct sockaddr *sa, socklen_t len, int backlog)
{
    return bound(sa, len, SOCK_STREAM, backlog > 0 ? backlog : 0);
}

int coro_tcp_listen(const char *host, int port, int backlog)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = numeric(host, port, 1, &ss, &len);

    return rc != 0 ? rc : listen_on((struct sockaddr *)&ss, len, backlog);
}

int coro_unix_listen(const char *path, int backlog)
{
    struct sockaddr_un sun;
    socklen_t len;
    int rc = unix_address(path, &sun, &len);

    return rc != 0 ? rc : listen_on((struct sockaddr *)&sun, len, backlog);
}

int coro_socket_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return CORO_EINVAL;
}

int coro_accept_until(int lfd, coro_time deadline)
{
    int err, fd;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL)
        return err;
    if (lfd < 0)
        return CORO_EBADF;
    if (err != 0)
        return coro__fd_canceled(self->loop, lfd);
    if ((err = coro__fd_adopt(self->loop, lfd)) != 0) /* non-blocking from the start */
        return err;
    for (;;) {
        fd =
            CORO__SYSCALL(CORO__SYS_ACCEPT, accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (fd >= 0) {
            int one = 1; /* as Go does: small writes go out now (fails on Unix sockets) */
            int tcp = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;

            if ((err = coro__fd_adopt_socket(self->loop, fd, tcp)) != 0) {
                close(fd);
                return err;
            }
            return fd;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue; /* a connection reset before it was accepted: the next */
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if ((err = coro_fd_wait_until(lfd, CORO_READ, deadline)) != 0)
            return err;
    }
}

int coro_accept(int lfd)
{
    return coro_accept_until(lfd, CORO_NEVER);
}

/* One connect(): 0 or an errno value. A test's EINTR (coro__sys_inject)
 * is reported after the call is made, as the kernel's is: the connection
 * has started; other injected errors replace the call. */
static int connect_once(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (CORO__UNLIKELY(coro__sys_armed) && coro__sys_fail(CORO__SYS_CONNECT)) {
        if (errno != EINTR)
            return errno;
        (void)connect(fd, sa, len);
        return EINTR;
    }
    return connect(fd, sa, len) == 0 ? 0 : errno;
}

/* connect(): 0, EINPROGRESS, or an errno value. A Unix-domain listener whose backlog
 * is full makes a non-blocking connect fail with EAGAIN, and nothing
 * tells when to try again (the socket stays unconnected: waiting for it
 * to be writable would report a connection that is not there): it is
 * tried again after a pause, doubling from 1 ms to 100 ms, until the
 * deadline. */
static int try_connect(int fd, const struct sockaddr *sa, socklen_t len, coro_time deadline)
{
    coro_time pause = CORO_MSEC(1);

    for (;;) {
        int err = connect_once(fd, sa, len);
        coro_time until;

        if (err == EINTR) /* POSIX: the connection goes on, asynchronously */
            return EINPROGRESS;
        if (err != EAGAIN || sa->sa_family != AF_UNIX)
            return err; /* TCP's EAGAIN: no local port or route entry free */
        if (coro_now() >= deadline)
            return ETIMEDOUT;
        until = coro_after(pause);
        if ((err = coro_sleep_until(until < deadline ? until : deadline)) != 0)
            return -err; /* a coro code, negated as the errno values are */
        if (pause < CORO_MSEC(100))
            pause *= 2;
    }
}

static int connect_to(const struct sockaddr *sa, socklen_t len, coro_time deadline)
{
    int err, fd, soerr = 0;
    socklen_t elen = sizeof soerr;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL || err != 0)
        return err;
    fd = CORO__SYSCALL(CORO__SYS_SOCKET,
                       socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd < 0)
        return -errno;
    err = try_connect(fd, sa, len, deadline);
    if (err != 0 && err != EINPROGRESS) {
        close(fd);
        return -err;
    }
    /* Watched from now on: a connection made meanwhile raises its edge. */
    if ((soerr = coro__fd_adopt_socket(self->loop, fd, sa->sa_family != AF_UNIX)) != 0) {
        close(fd);
        return soerr;
    }
    if (err == 0)
        return fd;
    err = coro_fd_wait_until(fd, CORO_WRITE, deadline);
    if (err == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
        err = -errno;
    if (err == 0 && soerr != 0)
        err = -soerr;
    if (err != 0) {
        coro_fd_close(fd);
        return err;
    }
    return fd;
}

int coro_tcp_connect_until(const char *host, int port, coro_time deadline)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = numeric(host, port, 0, &ss, &len), fd, one = 1;

    if (rc != 0)
        return coro__refuse(rc);
    fd = connect_to((struct sockaddr *)&ss, len, deadline);
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int coro_tcp_connect(const char *host, int port)
{
    return coro_tcp_connect_until(host, port, CORO_NEVER);
}

int coro_unix_connect_until(const char *path, coro_time deadline)
{
    struct sockaddr_un sun;
    socklen_t len;
    int rc = unix_address(path, &sun, &len);

    return rc != 0 ? coro__refuse(rc) : connect_to((struct sockaddr *)&sun, len, deadline);
}

int coro_unix_connect(const char *path)
{
    return coro_unix_connect_until(path, CORO_NEVER);
}

int coro_shutdown(int fd, int how)
{
    int h = how == CORO_SHUT_RD ? SHUT_RD : how == CORO_SHUT_WR ? SHUT_WR : SHUT_RDWR;

    if (how != CORO_SHUT_RD && how != CORO_SHUT_WR && how != CORO_SHUT_RDWR)
        return CORO_EINVAL;
    return shutdown(fd, h) == 0 ? 0 : -errno;
}

/* ---- UDP ---- */

int coro_udp_bind(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = numeric(host, port, 1, &ss, &len);

    return rc != 0 ? rc : bound((struct sockaddr *)&ss, len, SOCK_DGRAM, -1);
}

struct datagram {
    void *buf;
    size_t n;
    struct sockaddr_storage ss;
    socklen_t len;
};

static long do_sendto(int fd, void *ctx, int socket)
{
    struct datagram *d = ctx;

    (void)socket;
    return (long)sendto(fd, d->buf, d->n, MSG_NOSIGNAL, (struct sockaddr *)&d->ss, d->len);
}

long coro_udp_send(int fd, const void *buf, size_t n, const char *host, int port)
{
    struct datagram d;
    int rc = numeric(host, port, 0, &d.ss, &d.len);

    if (rc != 0)
        return coro__refuse(rc);
    d.buf = (void *)buf;
    d.n = n;
    return coro__io_retry(fd, CORO_WRITE, CORO_NEVER, do_sendto, &d, 0);
}

static long do_recvfrom(int fd, void *ctx, int socket)
{
    struct datagram *d = ctx;

    (void)socket;
    d->len = sizeof d->ss;
    return (long)recvfrom(fd, d->buf, d->n, 0, (struct sockaddr *)&d->ss, &d->len);
}

long coro_udp_recv_until(int fd, void *buf, size_t n, char *host, size_t host_len, int *port,
                         coro_time deadline)
{
    struct datagram d;
    char service[16];
    long r;

    d.buf = buf;
    d.n = n;
    r = coro__io_retry(fd, CORO_READ, deadline, do_recvfrom, &d, 0);
    if (r >= 0 && (host != NULL || port != NULL) &&
        getnameinfo((struct sockaddr *)&d.ss, d.len, host, host != NULL ? (socklen_t)host_len : 0,
                    service, sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) == 0 &&
        port != NULL)
        *port = atoi(service);
    return r;
}

long coro_udp_recv(int fd, void *buf, size_t n, char *host, size_t host_len, int *port)
{
    return coro_udp_recv_until(fd, buf, n, host, host_len, port, CORO_NEVER);
}
