/*
 * epoll_server.c - the network benchmark's "limit for one core": a minimal
 * single-threaded, non-blocking epoll server written by hand, no runtime.
 *
 *   epoll_server http|echo PORT      (PORT 0: any free port)
 *
 * Prints "listening on 127.0.0.1:<port>" once listening, serves until
 * SIGTERM or SIGINT, then exits 0. http: HTTP/1.1 keep-alive, every complete
 * request head answers a fixed "Hello, World!" (pipelined heads answered in
 * order, coalesced into one write). echo: writes back whatever it reads.
 *
 * Level-triggered with one read per readiness event: the fewest system calls
 * per request (read, write, and a share of an epoll_wait). Edge-triggered
 * needs the same read plus, to be safe, a second read to see EAGAIN.
 * A connection whose write falls short waits for EPOLLOUT instead of EPOLLIN
 * (it reads nothing more until its output is out: bounded memory). The
 * connection table is indexed by fd and its entries are reused, so nothing
 * is allocated per request and, once warm, nothing per connection.
 */
#define _GNU_SOURCE /* accept4, memmem, signalfd */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hello.h"

#define MAX_EVENTS 256


struct conn {
    size_t in_len;  /* http: bytes of in[] not yet answered (a partial head) */
    size_t out_off; /* out[out_off, out_len) is still to be sent */
    size_t out_len;
    int waiting_out; /* registered for EPOLLOUT (not EPOLLIN): out_off < out_len */
    int open;        /* the entry's fd is a connection now */
    char in[BUF_SIZE];
    char out[BUF_SIZE]; /* echo: also the read buffer */
};

static int http_mode;
static int ep;
static struct conn **conns; /* indexed by fd; an entry outlives its fd, for reuse */
static int nconns;          /* the length of conns: the fd limit */

static int listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    socklen_t len = sizeof a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4096) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("epoll_server: listen");
        exit(1);
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    return fd;
}

static void watch(int op, int fd, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};

    if (epoll_ctl(ep, op, fd, &ev) != 0) {
        perror("epoll_server: epoll_ctl");
        exit(1);
    }
}

static void answer(struct conn *c)
{
    answer_heads(c->in, &c->in_len, c->out, &c->out_len);
}

/* Sends what c->out holds: 0 when all is sent, 1 when the socket is full
 * (the rest waits for EPOLLOUT), -1 on error. */
static int flush(int fd, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 1 : -1;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    return 0;
}

/* Flushes, answering the heads that did not fit in the previous round, until
 * the input is used up or the socket is full; sets the interest to match.
 * 0, or -1 when the connection is to be closed. */
static int progress(int fd, struct conn *c)
{
    int r;

    while ((r = flush(fd, c)) == 0 && http_mode && c->in_len > 0) {
        answer(c);
        if (c->out_len == 0)
            break; /* only a partial head left */
    }
    if (r < 0)
        return -1;
    if ((r == 1) != c->waiting_out) {
        c->waiting_out = r == 1;
        watch(EPOLL_CTL_MOD, fd, r == 1 ? EPOLLOUT : EPOLLIN);
    }
    return 0;
}

static int on_readable(int fd, struct conn *c)
{
    ssize_t n;

    if (!http_mode) {
        n = read(fd, c->out, BUF_SIZE);
        if (n <= 0)
            return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        c->out_len = (size_t)n;
        return progress(fd, c);
    }
    if (c->in_len == BUF_SIZE)
        return -1; /* a head larger than the buffer */
    n = read(fd, c->in + c->in_len, BUF_SIZE - c->in_len);
    if (n <= 0)
        return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    c->in_len += (size_t)n;
    answer(c);
    return progress(fd, c);
}

static void drop(int fd)
{
    conns[fd]->open = 0;
    close(fd); /* also leaves the epoll set: the fd is never duplicated */
}

static void accept_all(int lfd)
{
    int fd, one = 1;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        struct conn *c;

        if (fd >= nconns || (conns[fd] == NULL && (conns[fd] = malloc(sizeof *c)) == NULL)) {
            close(fd);
            continue;
        }
        c = conns[fd];
        c->in_len = c->out_off = c->out_len = 0;
        c->waiting_out = 0;
        c->open = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        watch(EPOLL_CTL_ADD, fd, EPOLLIN);
    }
    /* EAGAIN: drained. EMFILE and the like: the rest stay queued. */
}

static int stop_signals(void)
{
    sigset_t set;
    int fd;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        perror("epoll_server: signalfd");
        exit(1);
    }
    return fd;
}

static void serve(int lfd, int sfd)
{
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        int i, n = epoll_wait(ep, evs, MAX_EVENTS, -1);

        if (n < 0 && errno != EINTR) {
            perror("epoll_server: epoll_wait");
            exit(1);
        }
        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            struct conn *c;

            if (fd == sfd)
                return;
            if (fd == lfd) {
                accept_all(lfd);
                continue;
            }
            c = conns[fd];
            if ((c->waiting_out ? progress(fd, c) : on_readable(fd, c)) != 0)
                drop(fd);
        }
    }
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    int lfd, sfd, fd;

    if ((http_mode = serve_mode(argc, argv, "epoll_server")) < 0)
        return 2;
    getrlimit(RLIMIT_NOFILE, &rl);
    nconns = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
    signal(SIGPIPE, SIG_IGN);
    sfd = stop_signals();
    if ((conns = calloc((size_t)nconns, sizeof *conns)) == NULL ||
        (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        perror("epoll_server");
        return 1;
    }
    lfd = listen_on(atoi(argv[2]));
    watch(EPOLL_CTL_ADD, lfd, EPOLLIN);
    watch(EPOLL_CTL_ADD, sfd, EPOLLIN);
    serve(lfd, sfd);
    for (fd = 0; fd < nconns; fd++) {
        if (conns[fd] != NULL && conns[fd]->open)
            close(fd);
        free(conns[fd]);
    }
    free(conns);
    close(lfd);
    close(sfd);
    close(ep);
    return 0;
}
