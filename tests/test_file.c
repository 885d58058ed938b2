/*
 * test_file.c - regular-file reads and writes that suspend only the calling
 * task (io_uring or the offload pool): contents, offsets, fsync, errors,
 * that a task canceled mid-call still gets its buffer filled before it
 * returns, and that a refused io_uring submission leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "sched.h"
#include "test.h"
#include "hooks.h"

static char path[64];

static void *file_main(void *arg)
{
    int fd;
    char buf[32] = "";

    (void)arg;
    snprintf(path, sizeof path, "/tmp/coro-file-%d", (int)getpid());
    fd = coro_file_open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_INT(coro_file_write(fd, "hello, world", 12, 0), 12);
    CHECK_INT(coro_file_write(fd, "W", 1, 7), 1); /* at an offset */
    CHECK_ERR(coro_file_fsync(fd), 0);
    CHECK_INT(coro_file_read(fd, buf, sizeof buf, 0), 12);
    CHECK(memcmp(buf, "hello, World", 12) == 0);
    CHECK_INT(coro_file_read(fd, buf, 5, 7), 5);
    CHECK(memcmp(buf, "World", 5) == 0);
    CHECK_INT(coro_file_read(fd, buf, sizeof buf, 100), 0); /* past the end */
    CHECK_INT(coro_file_read(fd, buf, 5, -1), 5);           /* at the position */
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_INT(close(fd), 0);
    CHECK_ERR(coro_file_open("/nonexistent/dir/file", O_RDONLY, 0), CORO_ENOENT);
    CHECK_INT(coro_file_read(-1, buf, 1, 0), CORO_EBADF);
    CHECK_INT(coro_file_read(fd, NULL, 1, 0), CORO_EINVAL);
    CHECK_INT(coro_file_read(fd, buf, 1, 0), CORO_EBADF); /* closed */
    unlink(path);
    return NULL;
}

/* Every file test runs on both backends: io_uring where this build and
 * kernel have it, and the thread pool (CORO_IO_URING=0). */
static void both_backends(coro_fn fn, void *arg)
{
    CHECK_INT(setenv("CORO_IO_URING", "0", 1), 0);
    CHECK_ERR(coro_run(fn, arg, NULL, NULL), 0);
    CHECK_INT(unsetenv("CORO_IO_URING"), 0);
    CHECK_ERR(coro_run(fn, arg, NULL, NULL), 0);
}

TEST(file_reads_and_writes_at_offsets_on_both_backends)
{
    both_backends(file_main, NULL);
}

struct slow_read {
    int fds[2];
    char buf[8];
    long got, after;
};

static void *read_pipe(void *arg)
{
    struct slow_read *r = arg;

    /* A pipe with nothing in it: the pool's thread blocks in read(2). */
    r->got = coro_file_read(r->fds[0], r->buf, sizeof r->buf, -1);
    r->after = coro_file_read(r->fds[0], r->buf, 1, -1); /* canceled now: refused */
    return NULL;
}

static void *cancel_mid_read(void *arg)
{
    struct slow_read *r = arg;
    coro_task *t;

    CHECK_ERR(coro_spawn(&t, read_pipe, r, NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0); /* it waits in its read */
    CHECK_ERR(coro_cancel(t), 0);           /* which goes on */
    CHECK_INT(write(r->fds[1], "hello", 5), 5);
    CHECK_ERR(coro_await(t, NULL), CORO_ETASKCANCELED);
    return NULL;
}

TEST(a_task_canceled_during_a_file_read_still_gets_its_data)
{
    struct slow_read r = {{-1, -1}, "", 0, 0};

    for (int uring = 0; uring < 2; uring++) {
        CHECK_INT(uring ? unsetenv("CORO_IO_URING") : setenv("CORO_IO_URING", "0", 1), 0);
        CHECK_INT(pipe(r.fds), 0);
        CHECK_ERR(coro_run(cancel_mid_read, &r, NULL, NULL), 0);
        CHECK_INT(r.got, 5); /* the read was not cut short by the cancel */
        CHECK(memcmp(r.buf, "hello", 5) == 0);
        CHECK_ERR((int)r.after, CORO_ECANCELED);
        close(r.fds[0]);
        close(r.fds[1]);
    }
}

/* A submission the kernel refuses leaves its entry in the ring, pointing
 * at the caller's frame and buffer: it must go out as a no-op that nobody
 * waits for, and the request must be done by the pool instead. Left as it
 * was, the next submission would send it along, and the kernel would read
 * into the first buffer again, after the caller had reused it. */
static void *submit_refused(void *arg)
{
    char first[8] = "", second[8] = "";
    int fd;

    (void)arg;
    snprintf(path, sizeof path, "/tmp/coro-file-%d", (int)getpid());
    fd = coro_file_open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_INT(coro_file_write(fd, "abcdef", 6, 0), 6);
    coro__sys_inject(CORO__SYS_URING_SUBMIT, 1, 1, EBUSY);
    CHECK_INT(coro_file_read(fd, first, 6, 0), 6); /* refused: the pool reads it */
    CHECK(memcmp(first, "abcdef", 6) == 0);
    memcpy(first, "reused", 6);
    CHECK_INT(coro_file_read(fd, second, 3, 3), 3); /* the ring again */
    CHECK(memcmp(second, "def", 3) == 0);
    CHECK(memcmp(first, "reused", 6) == 0); /* nothing read into it again */
    if (coro__loop_tls->uring != NULL)
        CHECK_INT(coro__sys_failures(CORO__SYS_URING_SUBMIT), 1); /* the refusal did happen */
    CHECK_INT(close(fd), 0);
    unlink(path);
    return NULL;
}

TEST(a_refused_io_uring_submission_goes_to_the_pool_and_leaves_nothing_queued)
{
    CHECK_INT(unsetenv("CORO_IO_URING"), 0);
    CHECK_ERR(coro_run(submit_refused, NULL, NULL, NULL), 0);
    coro__sys_inject(CORO__SYS_URING_SUBMIT, 0, 0, 0);
}

TEST(file_calls_outside_a_task_are_refused)
{
    char c;

    CHECK_ERR(coro_file_open("/tmp", O_RDONLY, 0), CORO_ENOLOOP);
    CHECK_INT(coro_file_read(0, &c, 1, 0), CORO_ENOLOOP);
}
