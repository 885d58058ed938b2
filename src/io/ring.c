/*
 * ring.c - the io_uring layer (ring.h): what the file and receive-ahead
 * rings share.
 */
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "hooks.h"

int coro__ring_allowed(void)
{
    const char *env = getenv("CORO_IO_URING");

    return env == NULL || strcmp(env, "0") != 0;
}

int coro__ring_open(coro__ring *r, unsigned entries, struct io_uring_params *p)
{
    struct io_uring_params none;

    if (!coro__ring_allowed())
        return CORO_ENOSYS;
    if (p == NULL) {
        memset(&none, 0, sizeof none);
        p = &none;
    }
    return CORO__URING(CORO__SYS_URING_SETUP, io_uring_queue_init_params(entries, &r->u, p));
}

void coro__ring_close(coro__ring *r)
{
    io_uring_queue_exit(&r->u);
}

struct io_uring_sqe *coro__ring_sqe(coro__ring *r)
{
    struct io_uring_sqe *sqe;

    if (CORO__UNLIKELY(coro__sys_armed) && coro__sys_fail(CORO__SYS_URING_SQE))
        return NULL;
    if ((sqe = io_uring_get_sqe(&r->u)) == NULL) {
        io_uring_submit(&r->u); /* full: make room */
        sqe = io_uring_get_sqe(&r->u);
    }
    return sqe;
}

int coro__ring_submit(coro__ring *r)
{
    return CORO__URING(CORO__SYS_URING_SUBMIT, io_uring_submit(&r->u));
}
