/*
 * ring.h - the I/O layer's io_uring, one ring type for its two users:
 * regular-file operations (ring_file.c) and receiving sockets ahead
 * (ring_rx.c). What both need is here once: opening a ring (the
 * CORO_IO_URING=0 switch and the setup's fault site), taking a submission
 * entry (submitting to make room when the queue is full) and submitting,
 * each a fault-injection site (hooks.h: CORO__SYS_URING_SETUP, _SQE,
 * _SUBMIT) so that tests can refuse them.
 *
 * Compiled only where liburing is (the Makefile picks ring_none.c
 * otherwise); nothing here knows about tasks.
 */
#ifndef CORO_RING_H
#define CORO_RING_H

#include <liburing.h>

#include "internal.h"

typedef struct coro__ring {
    struct io_uring u;
} coro__ring;

/* Opens r with `entries` submission entries and p's flags (NULL: none).
 * 0, or CORO_ENOSYS where io_uring is switched off (CORO_IO_URING=0) and
 * a negative errno code where the kernel refuses it. */
CORO__HIDDEN int coro__ring_open(coro__ring *r, unsigned entries, struct io_uring_params *p);
CORO__HIDDEN void coro__ring_close(coro__ring *r);

/* A free submission entry, the queue submitted first if it is full; NULL
 * when none is free or the kernel refuses (a test's fault). */
CORO__HIDDEN struct io_uring_sqe *coro__ring_sqe(coro__ring *r);

/* Submits the queued entries: how many the kernel took, or a negative
 * errno code. */
CORO__HIDDEN int coro__ring_submit(coro__ring *r);

/* Whether io_uring may be used at all (CORO_IO_URING is not "0"). */
CORO__HIDDEN int coro__ring_allowed(void);

#endif /* CORO_RING_H */
