/*
 * ring_file.c - regular-file operations through io_uring (ring.h): open,
 * read, write and fsync submitted to the kernel's ring instead of the
 * thread pool, where the kernel allows it.
 *
 * Design. One ring per loop, created on first use. A task submits one
 * request (its coro__file_op, on the heap: the task waits, uncancelably,
 * until the kernel is done with it and the buffer) and looks at the
 * completion queue at once: a read the page cache serves is done inside
 * the submission, and then the task goes on without parking. Otherwise it
 * waits (CORO__WAIT_OUTSIDE: no false deadlock). Completions signal an
 * eventfd that the loop's poller watches like any fd, with a hook (fd.c)
 * that reaps every completion and readies the task that waits for it. (Not
 * io_uring_register_eventfd_async, which would spare the signal of inline
 * completions: it signals only for io-wq workers, so a read of a pipe,
 * completed by poll and task work, would never wake the loop.)
 *
 * Selection at run time: when the ring cannot be created (an old kernel,
 * a seccomp filter that forbids io_uring_setup, CORO_IO_URING=0 in the
 * environment) or its kernel lacks one of the operations (probed) this
 * loop uses the thread pool for good. Built only where liburing is (make
 * detects it; cross builds do without, with ring_none.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sched.h"
#include "hooks.h"
#include "ring.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define CORO__MEMCHECK 1
#endif
#endif

#define ENTRIES 256

struct coro__uring {
    coro__ring ring;
    int efd;
};

/* Every completion there is: its request is done, its task ready. */
static void collect(struct coro__uring *u)
{
    struct io_uring_cqe *cqe;

    while (io_uring_peek_cqe(&u->ring.u, &cqe) == 0) {
        coro__file_op *op = io_uring_cqe_get_data(cqe);

        io_uring_cqe_seen(&u->ring.u, cqe);
        if (op == NULL)
            continue; /* a no-op left by a failed submission */
        op->result = cqe->res;
        op->done = 1;
#ifdef CORO__MEMCHECK
        /* The kernel wrote the bytes behind memcheck's back. */
        if (op->kind == CORO__FILE_READ && cqe->res > 0)
            VALGRIND_MAKE_MEM_DEFINED(op->buf, (size_t)cqe->res);
#endif
        coro__ready(op->task, 0);
    }
}

/* The eventfd's hook: completions the kernel finished in the background. */
static void reap(coro__loop *l)
{
    struct coro__uring *u = l->uring;
    uint64_t n;

    if (read(u->efd, &n, sizeof n) < 0) {
        /* drained already */
    }
    collect(u);
}

/* Whether the kernel has every operation this file submits (openat, read
 * and write came in 5.6: an older ring would fail them one by one). */
static int has_ops(struct io_uring *ring)
{
    static const int ops[] = {IORING_OP_OPENAT, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_FSYNC};
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    int ok = probe != NULL;

    for (size_t i = 0; ok && i < sizeof ops / sizeof ops[0]; i++)
        ok = io_uring_opcode_supported(probe, ops[i]);
    if (probe != NULL)
        io_uring_free_probe(probe);
    return ok;
}

static struct coro__uring *ring_of(coro__loop *l)
{
    struct coro__uring *u;

    if (l->uring != NULL || l->uring_off)
        return l->uring;
    l->uring_off = 1; /* until it works */
    if ((u = coro__malloc(sizeof *u)) == NULL)
        return NULL;
    if (coro__ring_open(&u->ring, ENTRIES, NULL) != 0) {
        coro__free(u);
        return NULL;
    }
    if (!has_ops(&u->ring.u)) {
        coro__ring_close(&u->ring);
        coro__free(u);
        return NULL;
    }
    u->efd = CORO__SYSCALL(CORO__SYS_EVENTFD, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (u->efd < 0 || io_uring_register_eventfd(&u->ring.u, u->efd) != 0 ||
        coro__io_hook(l, u->efd, reap) != 0) {
        if (u->efd >= 0)
            close(u->efd);
        coro__ring_close(&u->ring);
        coro__free(u);
        return NULL;
    }
    l->uring = u;
    l->uring_off = 0;
    return u;
}

long coro__uring_file(coro_task *self, coro__file_op *op)
{
    coro__loop *l = self->loop;
    struct coro__uring *u = ring_of(l);
    struct io_uring_sqe *sqe;
    unsigned len = op->n > 0x7ffff000u ? 0x7ffff000u : (unsigned)op->n; /* one request's limit */
    __u64 off = op->offset < 0 ? (__u64)-1 : (__u64)op->offset;         /* -1: the file position */

    if (u == NULL || (sqe = coro__ring_sqe(&u->ring)) == NULL)
        return CORO_ENOSYS; /* the pool takes it */
    switch (op->kind) {
    case CORO__FILE_OPEN:
        io_uring_prep_openat(sqe, AT_FDCWD, op->path, op->flags | O_CLOEXEC, (mode_t)op->mode);
        break;
    case CORO__FILE_READ:
        io_uring_prep_read(sqe, op->fd, op->buf, len, off);
        break;
    case CORO__FILE_WRITE:
        io_uring_prep_write(sqe, op->fd, op->buf, len, off);
        break;
    default:
        io_uring_prep_fsync(sqe, op->fd, 0);
        break;
    }
    op->done = 0;
    io_uring_sqe_set_data(sqe, op);
    if (coro__ring_submit(&u->ring) < 0) {
        /* The entry stays queued and would go with the next submission,
         * pointing at this frame: make it a no-op nobody waits for, and
         * let the pool do the work. */
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data(sqe, NULL);
        return CORO_ENOSYS;
    }
    collect(u); /* done already (a read from the page cache): no park */
    if (op->done)
        return op->result;
    while (!op->done) /* not cancelable: the kernel holds the buffer */
        if (coro__wait(self, NULL, NULL, 0, "file io", op, CORO_NEVER, CORO__WAIT_OUTSIDE) != 0)
            collect(u); /* the switch failed (no memory to save a copy-stack
                           task's frames): look for the completion here */
    return op->result;
}

void coro__uring_free(coro__loop *l)
{
    struct coro__uring *u = l->uring;

    if (u == NULL)
        return;
    coro__ring_close(&u->ring);
    coro_fd_close(u->efd);
    coro__free(u);
    l->uring = NULL;
}
