/*
 * ring_none.c - the io_uring layer where the library is built without
 * liburing (the Makefile picks this file instead of ring*.c): no file ring,
 * so file operations go to the offload pool, and no receive-ahead ring, so
 * sockets are read with read().
 */
#include "sched.h"
#include "rx.h"
#include "hooks.h"

long coro__uring_file(coro_task *self, coro__file_op *op)
{
    (void)self, (void)op;
    return CORO_ENOSYS;
}

void coro__uring_free(coro__loop *l)
{
    (void)l;
}

void coro__rx_inject(unsigned nbuf)
{
    (void)nbuf;
}

coro__rx *coro__rx_open(int poll_fd)
{
    (void)poll_fd;
    return NULL;
}

/* The rest is never reached: there is no ring to pass them. */

void coro__rx_close(coro__rx *rx)
{
    (void)rx;
}

int coro__rx_arm(coro__rx *rx, int fd, unsigned gen)
{
    (void)rx, (void)fd, (void)gen;
    return CORO_ENOSYS;
}

void coro__rx_cancel(coro__rx *rx, int fd, unsigned gen)
{
    (void)rx, (void)fd, (void)gen;
}

void coro__rx_end_poll(coro__rx *rx)
{
    (void)rx;
}

int coro__rx_wait(coro__rx *rx, coro_time timeout, void (*got)(void *ctx, const coro__rx_event *e),
                  void *ctx)
{
    (void)rx, (void)timeout, (void)got, (void)ctx;
    return 0;
}

void coro__rxq_push(coro__rx *rx, coro__rxq *q, int bid, unsigned len)
{
    (void)rx, (void)q, (void)bid, (void)len;
}

size_t coro__rxq_take(coro__rx *rx, coro__rxq *q, const struct iovec *iov, int n, size_t max)
{
    (void)rx, (void)q, (void)iov, (void)n, (void)max;
    return 0;
}

void coro__rxq_drop(coro__rx *rx, coro__rxq *q)
{
    (void)rx, (void)q;
}

void coro__rx_recycle(coro__rx *rx, int bid)
{
    (void)rx, (void)bid;
}

unsigned coro__rx_size(const coro__rx *rx)
{
    (void)rx;
    return 0;
}

unsigned coro__rx_spare(const coro__rx *rx)
{
    (void)rx;
    return 0;
}
