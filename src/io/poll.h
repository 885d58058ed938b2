/*
 * poll.h - the I/O backend contract: what the loop needs from a readiness
 * poller, one backend per file (poll_epoll.c), and the loop's wait.
 * io_uring is not a poller here: ring_file.c does file operations, and
 * ring_rx.c receives sockets ahead and nests this poller's fd in its own
 * wait, which is then the loop's.
 *
 * Contract. A poller watches file descriptors edge-triggered: after
 * coro__poller_add(fd), each time fd becomes readable or writable (or
 * fails: error, hang-up) the next coro__poller_wait reports it once, with
 * the directions that changed. Readiness that existed when the fd was
 * added is reported too. The caller always tries its I/O first and waits
 * only after EAGAIN, so an edge is never needed twice. A closed fd must be
 * removed before close() (the kernel would drop it anyway, but the fd
 * number may come back as another file). Nothing here blocks except
 * coro__poller_wait, and nothing here knows about tasks.
 *
 * Why edge-triggered and persistent: one epoll_ctl per fd for its whole
 * life instead of one per wait (a system call costs about 235 ns here,
 * more than the rest of a request's handling).
 */
#ifndef CORO_POLL_H
#define CORO_POLL_H

#include "internal.h"

#define CORO__POLL_IN 0x1u
#define CORO__POLL_OUT 0x2u
#define CORO__POLL_ERR 0x4u /* error or hang-up: wake both directions */
#define CORO__POLL_HUP 0x8u /* the peer shut down or the fd failed: no more edges come */

typedef struct coro__poller coro__poller;

/* A poller, or CORO_ENOMEM / CORO_EMFILE. */
CORO__HIDDEN int coro__poller_open(coro__poller **p);
CORO__HIDDEN void coro__poller_close(coro__poller *p);

/* Watches fd (both directions). 0 or a negative errno code. */
CORO__HIDDEN int coro__poller_add(coro__poller *p, int fd);

/* Changes what a watched fd reports: CORO__POLL_OUT alone (its reads come
 * from elsewhere: rx.h) or CORO__POLL_IN | CORO__POLL_OUT. Hang-ups and
 * errors are reported either way. 0 or a negative errno code. */
CORO__HIDDEN int coro__poller_watch(coro__poller *p, int fd, unsigned dirs, int add);

/* The fd a poller waits on, for nesting it in another wait (rx.h), or -1. */
CORO__HIDDEN int coro__poller_fd(const coro__poller *p);

/* Stops watching fd. */
CORO__HIDDEN void coro__poller_del(coro__poller *p, int fd);

/* The most events one coro__poller_wait reports: when it reports that
 * many, more may be waiting. */
#define CORO__POLL_BATCH 128

/* Waits at most timeout ns (0: do not block; < 0: no limit) and calls
 * ready(ctx, fd, events) for every reported fd. Returns how many were
 * reported (0 on timeout or a signal). */
CORO__HIDDEN int coro__poller_wait(coro__poller *p, coro_time timeout,
                                   void (*ready)(void *ctx, int fd, unsigned events), void *ctx);

/* The loop's wait (coro__io_poll): the poller alone (fd.c), or, from the
 * loop's first TCP socket on when the loop receives ahead, the
 * receive-ahead ring with the poller's fd nested in it (ahead.c); the
 * choice is made once. It waits at most timeout
 * ns as coro__poller_wait does, wakes the tasks whose fds are ready, and
 * returns how many events it handled. */
struct coro__io;
typedef int (*coro__io_wait)(struct coro__io *io, coro_time timeout);

#endif /* CORO_POLL_H */
