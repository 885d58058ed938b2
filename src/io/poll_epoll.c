/*
 * poll_epoll.c - the epoll backend of poll.h: EPOLLET registrations for
 * both directions, a fixed batch of events per wait.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "poll.h"
#include "hooks.h"

#define BATCH CORO__POLL_BATCH

struct coro__poller {
    int epfd;
    struct epoll_event events[BATCH];
};

int coro__poller_open(coro__poller **out)
{
    coro__poller *p = coro__malloc(sizeof *p);

    if (p == NULL)
        return CORO_ENOMEM;
    p->epfd = CORO__SYSCALL(CORO__SYS_EPOLL_CREATE, epoll_create1(EPOLL_CLOEXEC));
    if (p->epfd < 0) {
        int err = -errno;
        coro__free(p);
        return err;
    }
    *out = p;
    return 0;
}

void coro__poller_close(coro__poller *p)
{
    if (p == NULL)
        return;
    close(p->epfd);
    coro__free(p);
}

int coro__poller_watch(coro__poller *p, int fd, unsigned dirs, int add)
{
    struct epoll_event ev;

    ev.events = EPOLLRDHUP | EPOLLET | (dirs & CORO__POLL_IN ? EPOLLIN : 0u) |
                (dirs & CORO__POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (CORO__SYSCALL(CORO__SYS_EPOLL_CTL,
                      epoll_ctl(p->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev)) == 0)
        return 0;
    return add && errno == EEXIST ? 0 : -errno;
}

int coro__poller_add(coro__poller *p, int fd)
{
    return coro__poller_watch(p, fd, CORO__POLL_IN | CORO__POLL_OUT, 1);
}

int coro__poller_fd(const coro__poller *p)
{
    return p != NULL ? p->epfd : -1;
}

void coro__poller_del(coro__poller *p, int fd)
{
    struct epoll_event ev = {0, {0}}; /* kernels before 2.6.9 wanted one */

    (void)CORO__SYSCALL(CORO__SYS_EPOLL_CTL, epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &ev));
}

int coro__poller_wait(coro__poller *p, coro_time timeout,
                      void (*ready)(void *ctx, int fd, unsigned events), void *ctx)
{
    int ms, n;

    if (timeout < 0)
        ms = -1;
    else if (timeout == 0)
        ms = 0;
    else if (timeout > (coro_time)0x7fffffff * 1000000LL)
        ms = 0x7fffffff;
    else
        ms = (int)((timeout + 999999) / 1000000); /* round up: never wake early */
    n = CORO__SYSCALL(CORO__SYS_EPOLL_WAIT, epoll_wait(p->epfd, p->events, BATCH, ms));
    if (n < 0)
        return 0; /* EINTR: the loop looks again */
    for (int i = 0; i < n; i++) {
        unsigned e = p->events[i].events, got = 0;

        if (e & (EPOLLIN | EPOLLRDHUP))
            got |= CORO__POLL_IN;
        if (e & EPOLLOUT)
            got |= CORO__POLL_OUT;
        if (e & (EPOLLERR | EPOLLHUP))
            got |= CORO__POLL_ERR | CORO__POLL_IN | CORO__POLL_OUT;
        if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
            got |= CORO__POLL_HUP;
        ready(ctx, p->events[i].data.fd, got);
    }
    return n;
}
