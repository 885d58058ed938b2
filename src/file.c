/*
 * file.c - regular-file operations that suspend only the calling task:
 * open, read, write and fsync run on the loop's offload pool (regular files
 * are always "ready" to epoll, yet a read may wait for the disk).
 *
 * A file operation is not cancelable once started, and has no deadline: a
 * thread reads into or writes from the caller's buffer, so the caller waits
 * for it to end whatever happens (a canceled task gets CORO_ECANCELED only
 * if it was canceled before the call).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "sched.h"

typedef struct file_op {
    int kind;
    int fd, flags, mode;
    const char *path;
    void *buf;
    size_t n;
    long long offset;
    long result; /* >= 0, or a negative errno code */
} file_op;

enum { OP_OPEN, OP_READ, OP_WRITE, OP_FSYNC };

static void *run(void *arg)
{
    file_op *op = arg;
    long r;

    switch (op->kind) {
    case OP_OPEN:
        r = open(op->path, op->flags | O_CLOEXEC, op->mode);
        break;
    case OP_READ:
        r = op->offset < 0 ? read(op->fd, op->buf, op->n)
                           : pread(op->fd, op->buf, op->n, (off_t)op->offset);
        break;
    case OP_WRITE:
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

static long submit(file_op *op)
{
    int err;
    coro_task *self = coro__blocking_begin(&err);
    long r;

    if (self == NULL || err != 0)
        return err;
    r = coro__uring_file(self, op->kind, op->fd, op->path, op->flags, op->mode, op->buf, op->n,
                         op->offset);
    if (r != CORO_ENOSYS)
        return r;
    err = coro__offload_all(self, run, op, NULL); /* no io_uring: the pool */
    return err != 0 ? err : op->result;
}

int coro_file_open(const char *path, int flags, int mode)
{
    file_op op = {OP_OPEN, -1, flags, mode, path, NULL, 0, 0, 0};

    if (path == NULL)
        return CORO_EINVAL;
    return (int)submit(&op);
}

long coro_file_read(int fd, void *buf, size_t n, long long offset)
{
    file_op op = {OP_READ, fd, 0, 0, NULL, buf, n, offset, 0};

    if (fd < 0)
        return CORO_EBADF;
    if (buf == NULL && n > 0)
        return CORO_EINVAL;
    return submit(&op);
}

long coro_file_write(int fd, const void *buf, size_t n, long long offset)
{
    file_op op = {OP_WRITE, fd, 0, 0, NULL, (void *)buf, n, offset, 0};

    if (fd < 0)
        return CORO_EBADF;
    if (buf == NULL && n > 0)
        return CORO_EINVAL;
    return submit(&op);
}

int coro_file_fsync(int fd)
{
    file_op op = {OP_FSYNC, fd, 0, 0, NULL, NULL, 0, 0, 0};

    if (fd < 0)
        return CORO_EBADF;
    return (int)submit(&op);
}
