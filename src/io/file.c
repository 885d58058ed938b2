/*
 * file.c - regular-file operations that suspend only the calling task:
 * open, read, write and fsync go through io_uring (ring_file.c) where it is
 * there, else through the loop's offload pool (regular files are always
 * "ready" to epoll, yet a read may wait for the disk).
 *
 * A file operation is not cancelable once started, and has no deadline: a
 * thread or the kernel reads into or writes from the buffer, so the caller
 * waits for it to end whatever happens (a canceled task gets CORO_ECANCELED
 * only if it was canceled before the call).
 *
 * The operation's record is on the heap, as is anything it points at that
 * would otherwise be on a copy-stack task's stack (the caller's buffer or
 * path): while the task is parked another task's frames occupy those
 * addresses, and the thread or the kernel would write into them (the
 * result lost, the other task's locals overwritten). Such a buffer goes
 * through a bounce buffer, copied back when the task runs again.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "sched.h"

static void *run(void *arg)
{
    coro__file_op *op = arg;
    long r;

    switch (op->kind) {
    case CORO__FILE_OPEN:
        r = open(op->path, op->flags | O_CLOEXEC, op->mode);
        break;
    case CORO__FILE_READ:
        r = op->offset < 0 ? read(op->fd, op->buf, op->n)
                           : pread(op->fd, op->buf, op->n, (off_t)op->offset);
        break;
    case CORO__FILE_WRITE:
        r = op->offset < 0 ? write(op->fd, op->buf, op->n)
                           : pwrite(op->fd, op->buf, op->n, (off_t)op->offset);
        break;
    default:
        r = fsync(op->fd);
        break;
    }
    op->result = r < 0 ? -errno : r;
    return NULL;
}

/* Moves what op points at off the shared stack when self is a copy-stack
 * task: the path into a copy, the buffer into a bounce buffer (holding the
 * bytes to write). 0 or CORO_ENOMEM. */
static int off_the_stack(coro_task *self, coro__file_op *op)
{
    if (op->path != NULL && coro__task_on_shared_stack(self, op->path, strlen(op->path) + 1)) {
        if ((op->path = coro__strdup(op->path)) == NULL)
            return CORO_ENOMEM;
    }
    if (op->n > 0 && coro__task_on_shared_stack(self, op->buf, op->n)) {
        const coro__stack *s = &self->co->thread->shared;
        size_t room = (size_t)((const char *)s->lo + s->size - (const char *)op->buf);
        void *bounce;

        if (op->n > room)
            op->n = room; /* a stack buffer ends at the stack's top */
        if ((bounce = coro__malloc(op->n)) == NULL)
            return CORO_ENOMEM;
        if (op->kind == CORO__FILE_WRITE)
            memcpy(bounce, op->buf, op->n);
        op->buf = bounce;
    }
    return 0;
}

/* Runs the operation args: the checks every blocking call makes, in their
 * order (the loop, the arguments, the cancellation), then the work, done
 * inline where the task cannot wait (a cleanup at a loop's shutdown). */
static long submit(coro__file_op *args)
{
    int err;
    coro_task *self = coro__blocking_begin(&err);
    coro__file_op *op;
    long r;

    if (self == NULL)
        return err;
    if (args->kind == CORO__FILE_OPEN ? args->path == NULL : args->fd < 0)
        return args->kind == CORO__FILE_OPEN ? CORO_EINVAL : CORO_EBADF;
    if (args->buf == NULL && args->n > 0)
        return CORO_EINVAL;
    if (err != 0)
        return err;
    if (!coro__can_wait(self)) {
        run(args);
        return args->result;
    }
    if ((op = coro__malloc(sizeof *op)) == NULL)
        return CORO_ENOMEM;
    *op = *args;
    op->task = self;
    r = off_the_stack(self, op);
    if (r == 0) {
        r = coro__uring_file(self, op);
        if (r == CORO_ENOSYS) { /* no io_uring: the pool */
            err = coro__offload_all(self, run, op, NULL);
            r = err != 0 ? err : op->result;
        }
    }
    if (op->buf != args->buf) {
        if (op->kind == CORO__FILE_READ && r > 0)
            memcpy(args->buf, op->buf, (size_t)r);
        coro__free(op->buf);
    }
    if (op->path != args->path)
        coro__free((char *)op->path);
    coro__free(op);
    return r;
}

int coro_file_open(const char *path, int flags, int mode)
{
    coro__file_op op = {CORO__FILE_OPEN, -1, flags, mode, path, NULL, 0, 0, NULL, 0, 0};

    return (int)submit(&op);
}

long coro_file_read(int fd, void *buf, size_t n, long long offset)
{
    coro__file_op op = {CORO__FILE_READ, fd, 0, 0, NULL, buf, n, offset, NULL, 0, 0};

    return submit(&op);
}

long coro_file_write(int fd, const void *buf, size_t n, long long offset)
{
    coro__file_op op = {CORO__FILE_WRITE, fd, 0, 0, NULL, (void *)buf, n, offset, NULL, 0, 0};

    return submit(&op);
}

int coro_file_fsync(int fd)
{
    coro__file_op op = {CORO__FILE_FSYNC, fd, 0, 0, NULL, NULL, 0, 0, NULL, 0, 0};

    return (int)submit(&op);
}
