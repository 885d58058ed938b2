/*
 * test_iofault.c - every system call site of the I/O layer made to fail
 * (coro__sys_inject): EINTR, EAGAIN, ENOMEM, EMFILE and the like give the
 * caller a clean error or are retried, never a hang, a lost wake-up, a
 * leaked fd or lost data; and the call works again once the fault is gone.
 * The runner checks after each test that no fd was left open.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sched.h"
#include "test.h"
#include "hooks.h"

static void off(int site)
{
    coro__sys_inject(site, 0, 0, 0);
}

static void run(coro_fn fn)
{
    CHECK_ERR(coro_run(fn, NULL, NULL, NULL), 0);
    for (int site = 0; site < CORO__SYS_N; site++)
        off(site);
}

static int listener(void)
{
    int lfd = coro_tcp_listen("127.0.0.1", 0, 0);

    CHECK(lfd >= 0);
    return lfd;
}

/* ---- socket, accept, connect ---- */

static void *socket_fails(void *arg)
{
    int lfd;

    (void)arg;
    coro__sys_inject(CORO__SYS_SOCKET, 1, 3, EMFILE);
    CHECK_ERR(coro_tcp_listen("127.0.0.1", 0, 0), CORO_EMFILE);
    CHECK_ERR(coro_tcp_connect("127.0.0.1", 1), CORO_EMFILE);
    CHECK_ERR(coro_udp_bind("127.0.0.1", 0), CORO_EMFILE);
    lfd = listener(); /* and again once there are fds */
    close_all(lfd, -1);
    return NULL;
}

TEST(socket_failing_with_emfile_is_reported_and_then_works)
{
    run(socket_fails);
}

static void *connect_after(void *arg)
{
    int fd;

    CHECK_ERR(coro_sleep(CORO_MSEC(20)), 0);
    fd = coro_tcp_connect("127.0.0.1", (int)N(arg));
    CHECK(fd >= 0);
    return P(fd);
}

static void *accept_faults(void *arg)
{
    int lfd = listener(), port = coro_socket_port(lfd), c, s;
    coro_task *t;
    void *out;
    static const int retried[] = {EINTR, ECONNABORTED};
    static const int reported[] = {EMFILE, ENFILE, ENOMEM, ENOBUFS};

    (void)arg;
    /* Retried: the connection is accepted. */
    for (size_t i = 0; i < sizeof retried / sizeof retried[0]; i++) {
        c = coro_tcp_connect("127.0.0.1", port);
        CHECK(c >= 0);
        coro__sys_inject(CORO__SYS_ACCEPT, 1, 2, retried[i]);
        s = coro_accept(lfd);
        CHECK(s >= 0);
        CHECK_INT(coro__sys_failures(CORO__SYS_ACCEPT), 2);
        close_all(s, c, -1);
    }
    /* Reported: the connection waits in the backlog for the next accept. */
    for (size_t i = 0; i < sizeof reported / sizeof reported[0]; i++) {
        c = coro_tcp_connect("127.0.0.1", port);
        CHECK(c >= 0);
        coro__sys_inject(CORO__SYS_ACCEPT, 1, 1, reported[i]);
        CHECK_ERR(coro_accept(lfd), -reported[i]);
        s = coro_accept(lfd);
        CHECK(s >= 0);
        close_all(s, c, -1);
    }
    /* EAGAIN with nothing queued: it waits, and the next connection's edge
     * wakes it. */
    coro__sys_inject(CORO__SYS_ACCEPT, 1, 1, EAGAIN);
    CHECK_ERR(coro_spawn(&t, connect_after, P(port), NULL), 0);
    s = coro_accept(lfd);
    CHECK(s >= 0);
    CHECK_ERR(coro_await(t, &out), 0);
    close_all(s, (int)N(out), lfd, -1);
    return NULL;
}

TEST(accept_retries_eintr_and_econnaborted_and_reports_emfile_and_enomem)
{
    run(accept_faults);
}

static void serve_one(int fd, void *ctx)
{
    char c;

    (void)ctx;
    if (coro_read(fd, &c, 1) == 1)
        CHECK_INT(coro_write(fd, &c, 1), 1);
}

struct served {
    int lfd;
    int rc;
};

static void *server_task(void *arg)
{
    struct served *sv = arg;

    sv->rc = coro_serve(sv->lfd, serve_one, NULL, NULL);
    return NULL;
}

static void *serve_emfile(void *arg)
{
    struct served sv = {listener(), 0};
    coro_task *t;
    char got = 0;
    int c;

    (void)arg;
    coro__sys_inject(CORO__SYS_ACCEPT, 1, 3, EMFILE);
    CHECK_ERR(coro_spawn(&t, server_task, &sv, NULL), 0);
    c = coro_tcp_connect("127.0.0.1", coro_socket_port(sv.lfd));
    CHECK(c >= 0);
    CHECK_INT(coro_write(c, "x", 1), 1);
    /* The server backs off (1 ms, 2 ms, 4 ms) and then serves it. */
    CHECK_INT(coro_read_until(c, &got, 1, coro_after(CORO_SEC(5))), 1);
    CHECK_INT(got, 'x');
    CHECK_INT(coro__sys_failures(CORO__SYS_ACCEPT), 3);
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_await(t, NULL), CORO_ETASKCANCELED);
    CHECK_ERR(sv.rc, CORO_ECANCELED);
    close_all(c, sv.lfd, -1);
    return NULL;
}

TEST(serve_backs_off_on_emfile_from_accept_and_then_serves)
{
    run(serve_emfile);
}

static void *connect_faults(void *arg)
{
    int lfd = listener(), port = coro_socket_port(lfd), c, s;
    static const int reported[] = {ECONNREFUSED, ENETUNREACH, EADDRNOTAVAIL, EAGAIN, ENOMEM};

    (void)arg;
    /* EINTR: the connection goes on asynchronously (POSIX), and is made. */
    coro__sys_inject(CORO__SYS_CONNECT, 1, 1, EINTR);
    c = coro_tcp_connect("127.0.0.1", port);
    CHECK(c >= 0);
    s = coro_accept(lfd);
    CHECK(s >= 0);
    CHECK_INT(coro_write(c, "y", 1), 1);
    {
        char got = 0;
        CHECK_INT(coro_read(s, &got, 1), 1);
        CHECK_INT(got, 'y');
    }
    close_all(s, c, -1);
    /* Errors are reported, and the socket is closed (the runner checks). */
    for (size_t i = 0; i < sizeof reported / sizeof reported[0]; i++) {
        coro__sys_inject(CORO__SYS_CONNECT, 1, 1, reported[i]);
        CHECK_ERR(coro_tcp_connect("127.0.0.1", port), -reported[i]);
    }
    close_all(lfd, -1);
    return NULL;
}

TEST(connect_goes_on_after_eintr_and_reports_errors)
{
    run(connect_faults);
}

static void *unix_backlog_full(void *arg)
{
    char path[64];
    int lfd, c, s;

    (void)arg;
    snprintf(path, sizeof path, "/tmp/coro-iofault-%d.sock", (int)getpid());
    unlink(path);
    lfd = coro_unix_listen(path, 0);
    CHECK(lfd >= 0);
    /* A full backlog: connect says EAGAIN, and coro tries again later
     * (before, it waited for the unconnected socket to be writable and
     * returned it as connected). */
    coro__sys_inject(CORO__SYS_CONNECT, 1, 3, EAGAIN);
    c = coro_unix_connect(path);
    CHECK(c >= 0);
    CHECK_INT(coro__sys_failures(CORO__SYS_CONNECT), 3);
    s = coro_accept(lfd);
    CHECK(s >= 0);
    CHECK_INT(coro_write(c, "z", 1), 1);
    {
        char got = 0;
        CHECK_INT(coro_read(s, &got, 1), 1);
        CHECK_INT(got, 'z');
    }
    /* Still full at the deadline: CORO_ETIMEDOUT, nothing left open. */
    coro__sys_inject(CORO__SYS_CONNECT, 1, 0, EAGAIN);
    CHECK_ERR(coro_unix_connect_until(path, coro_after(CORO_MSEC(20))), CORO_ETIMEDOUT);
    off(CORO__SYS_CONNECT);
    close_all(s, c, lfd, -1);
    unlink(path);
    return NULL;
}

TEST(unix_connect_to_a_full_backlog_is_tried_again_until_the_deadline)
{
    run(unix_backlog_full);
}

/* ---- reads and writes ---- */

static void *write_later(void *arg)
{
    int fd = (int)N(arg);

    CHECK_ERR(coro_sleep(CORO_MSEC(10)), 0);
    CHECK_INT(coro_write(fd, "data", 4), 4);
    return NULL;
}

static void *read_faults(void *arg)
{
    int fds[2];
    char buf[8];
    coro_task *t;

    (void)arg;
    CHECK_INT(pipe(fds), 0);
    CHECK_INT(coro_write(fds[1], "abc", 3), 3);
    /* EINTR: retried, nothing lost. */
    coro__sys_inject(CORO__SYS_READ, 1, 3, EINTR);
    CHECK_INT(coro_read(fds[0], buf, sizeof buf), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    /* ENOMEM: reported; the bytes are still there for the next read. */
    CHECK_INT(coro_write(fds[1], "def", 3), 3);
    coro__sys_inject(CORO__SYS_READ, 1, 1, ENOMEM);
    CHECK_INT(coro_read(fds[0], buf, sizeof buf), CORO_ENOMEM);
    CHECK_INT(coro_read(fds[0], buf, sizeof buf), 3);
    CHECK(memcmp(buf, "def", 3) == 0);
    /* EAGAIN with nothing there: it waits, and the writer's bytes wake it. */
    CHECK_ERR(coro_spawn(&t, write_later, P(fds[1]), NULL), 0);
    coro__sys_inject(CORO__SYS_READ, 1, 1, EAGAIN);
    CHECK_INT(coro_read_until(fds[0], buf, sizeof buf, coro_after(CORO_SEC(5))), 4);
    CHECK(memcmp(buf, "data", 4) == 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    close_all(fds[0], fds[1], -1);
    return NULL;
}

TEST(read_retries_eintr_waits_after_eagain_and_reports_enomem_losing_nothing)
{
    run(read_faults);
}

static void *write_faults(void *arg)
{
    int sv[2];
    char buf[8];
    static const int reported[] = {EPIPE, ECONNRESET, ENOMEM, ENOBUFS};

    (void)arg;
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    coro__sys_inject(CORO__SYS_WRITE, 1, 3, EINTR);
    CHECK_ERR(coro_write_all(sv[0], "hello", 5), 0);
    CHECK_INT(coro_read(sv[1], buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    for (size_t i = 0; i < sizeof reported / sizeof reported[0]; i++) {
        coro__sys_inject(CORO__SYS_WRITE, 1, 1, reported[i]);
        CHECK_INT(coro_write(sv[0], "x", 1), -reported[i]);
    }
    CHECK_INT(coro_write(sv[0], "ok", 2), 2); /* nothing was half written */
    CHECK_INT(coro_read(sv[1], buf, sizeof buf), 2);
    CHECK(memcmp(buf, "ok", 2) == 0);
    close_all(sv[0], sv[1], -1);
    return NULL;
}

TEST(write_retries_eintr_and_reports_errors_writing_nothing)
{
    run(write_faults);
}

/* ---- the poller ---- */

static void *poller_create_fails(void *arg)
{
    int fds[2];
    char c = 0;

    (void)arg;
    CHECK_INT(pipe(fds), 0);
    coro__sys_inject(CORO__SYS_EPOLL_CREATE, 1, 1, EMFILE);
    CHECK_INT(coro_read(fds[0], &c, 1), CORO_EMFILE); /* the loop's first fd */
    CHECK_INT(coro_write(fds[1], "q", 1), 1);         /* created now */
    CHECK_INT(coro_read(fds[0], &c, 1), 1);
    CHECK_INT(c, 'q');
    close_all(fds[0], fds[1], -1);
    return NULL;
}

TEST(epoll_create_failing_is_reported_and_the_next_call_creates_it)
{
    run(poller_create_fails);
}

static void *watch_fails(void *arg)
{
    int fds[2], lfd, c, s;
    char got = 0;
    coro_task *t;

    (void)arg;
    CHECK_INT(pipe(fds), 0);
    /* Adopting an fd: the watch is refused, the call says so, and the fd
     * is adopted on the next call. */
    coro__sys_inject(CORO__SYS_EPOLL_CTL, 1, 1, ENOMEM);
    CHECK_INT(coro_read(fds[0], &got, 1), CORO_ENOMEM);
    coro__sys_inject(CORO__SYS_EPOLL_CTL, 1, 1, ENOSPC);
    CHECK_INT(coro_read(fds[0], &got, 1), -ENOSPC);
    CHECK_ERR(coro_spawn(&t, write_later, P(fds[1]), NULL), 0);
    {
        char buf[8];
        CHECK_INT(coro_read(fds[0], buf, sizeof buf), 4); /* watched: the edge wakes it */
    }
    CHECK_ERR(coro_await(t, NULL), 0);
    close_all(fds[0], fds[1], -1);
    /* An accepted connection whose watch is refused: the error, the
     * connection closed (the client sees its end), the next one works. */
    lfd = listener();
    CHECK_ERR(coro_accept_until(lfd, 0), CORO_ETIMEDOUT); /* lfd adopted */
    c = coro_tcp_connect("127.0.0.1", coro_socket_port(lfd));
    CHECK(c >= 0);
    coro__sys_inject(CORO__SYS_EPOLL_CTL, 1, 1, ENOMEM);
    CHECK_ERR(coro_accept(lfd), CORO_ENOMEM);
    CHECK_INT(coro_read_until(c, &got, 1, coro_after(CORO_SEC(5))), 0);
    s = coro_accept_until(lfd, coro_after(CORO_MSEC(1)));
    CHECK_ERR(s, CORO_ETIMEDOUT); /* that one is gone */
    close_all(c, -1);
    c = coro_tcp_connect("127.0.0.1", coro_socket_port(lfd));
    s = coro_accept(lfd);
    CHECK(c >= 0 && s >= 0);
    close_all(s, c, lfd, -1);
    return NULL;
}

TEST(epoll_ctl_failing_is_reported_and_the_fd_is_watched_on_the_next_call)
{
    run(watch_fails);
}

static void *poller_wait_interrupted(void *arg)
{
    int fds[2];
    char buf[8];
    coro_task *t;

    (void)arg;
    CHECK_INT(pipe(fds), 0);
    CHECK_ERR(coro_spawn(&t, write_later, P(fds[1]), NULL), 0);
    /* Every epoll_wait interrupted three times in a row: the loop waits
     * again, and the readiness it was to report is not lost. */
    coro__sys_inject(CORO__SYS_EPOLL_WAIT, 1, 3, EINTR);
    CHECK_INT(coro_read_until(fds[0], buf, sizeof buf, coro_after(CORO_SEC(5))), 4);
    CHECK(coro__sys_failures(CORO__SYS_EPOLL_WAIT) > 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    close_all(fds[0], fds[1], -1);
    return NULL;
}

TEST(epoll_wait_interrupted_loses_no_wake_up)
{
    CHECK_INT(setenv("CORO_READ_AHEAD", "0", 1), 0); /* the loop waits in epoll itself */
    run(poller_wait_interrupted);
    CHECK_INT(unsetenv("CORO_READ_AHEAD"), 0);
}

static void *fcntl_fails(void *arg)
{
    int fds[2];
    char c = 0;

    (void)arg;
    CHECK_INT(pipe(fds), 0);
    coro__sys_inject(CORO__SYS_FCNTL, 1, 1, EBADF);
    CHECK_INT(coro_read(fds[0], &c, 1), CORO_EBADF);
    CHECK_INT(coro_write(fds[1], "w", 1), 1);
    CHECK_INT(coro_read(fds[0], &c, 1), 1);
    CHECK_INT(fcntl(fds[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    close_all(fds[0], fds[1], -1);
    return NULL;
}

TEST(fcntl_failing_on_adoption_is_reported_and_the_next_call_adopts)
{
    run(fcntl_fails);
}

/* ---- the offload pool and io_uring ---- */

static void *twice(void *arg)
{
    return P(N(arg) * 2);
}

static void *offload_faults(void *arg)
{
    void *out = NULL;

    (void)arg;
    coro__sys_inject(CORO__SYS_EVENTFD, 1, 1, EMFILE);
    CHECK_ERR(coro_offload(twice, P(4), &out), CORO_EMFILE);
    coro__sys_inject(CORO__SYS_THREAD, 1, 4, EAGAIN); /* no thread at all */
    CHECK_ERR(coro_offload(twice, P(4), &out), CORO_ENOMEM);
    coro__sys_inject(CORO__SYS_THREAD, 2, 1, EAGAIN); /* the second fails: one thread */
    CHECK_ERR(coro_offload(twice, P(5), &out), 0);
    CHECK_PTR(out, P(10));
    for (int i = 0; i < 8; i++) { /* one thread does them all */
        CHECK_ERR(coro_offload(twice, P(i), &out), 0);
        CHECK_PTR(out, P(2 * i));
    }
    return NULL;
}

TEST(offload_pool_without_eventfd_or_threads_reports_it_and_one_thread_suffices)
{
    run(offload_faults);
}

static char file_path[64];

static void *file_faults(void *arg)
{
    char buf[8] = "";
    int fd;

    (void)arg;
    snprintf(file_path, sizeof file_path, "/tmp/coro-iofault-%d", (int)getpid());
    fd = coro_file_open(file_path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd == CORO_EMFILE && coro__loop_tls->uring == NULL)               /* no ring here: the */
        fd = coro_file_open(file_path, O_CREAT | O_RDWR | O_TRUNC, 0600); /* pool's eventfd */
    CHECK(fd >= 0);
    CHECK_INT(coro_file_write(fd, "ring", 4, 0), 4);
    CHECK_INT(coro_file_read(fd, buf, sizeof buf, 0), 4);
    CHECK(memcmp(buf, "ring", 4) == 0);
    CHECK_INT(close(fd), 0);
    unlink(file_path);
    return NULL;
}

TEST(file_calls_fall_back_to_the_pool_when_the_ring_or_its_eventfd_cannot_be_made)
{
    CHECK_INT(unsetenv("CORO_IO_URING"), 0);
    coro__sys_inject(CORO__SYS_URING_SETUP, 1, 1, ENOMEM);
    run(file_faults);
    coro__sys_inject(CORO__SYS_EVENTFD, 1, 1, EMFILE); /* the ring's eventfd */
    run(file_faults);
    coro__sys_inject(CORO__SYS_URING_SUBMIT, 1, 0, EBUSY); /* every request refused */
    run(file_faults);
}

static void *echo_ahead(void *arg)
{
    int lfd = listener(), c, s;
    char buf[8];

    (void)arg;
    c = coro_tcp_connect("127.0.0.1", coro_socket_port(lfd));
    s = coro_accept(lfd);
    CHECK(c >= 0 && s >= 0);
    CHECK_INT(coro_write(c, "ahead", 5), 5);
    CHECK_INT(coro_read(s, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "ahead", 5) == 0);
    close_all(s, c, lfd, -1);
    return NULL;
}

TEST(receiving_ahead_without_its_ring_reads_with_read)
{
    coro_run_options ahead = {CORO_RUN_READ_AHEAD, 0, 0, 0, 0, 0};

    CHECK_INT(unsetenv("CORO_IO_URING"), 0);
    CHECK_INT(unsetenv("CORO_READ_AHEAD"), 0);
    coro__sys_inject(CORO__SYS_URING_SETUP, 1, 1, ENOMEM);
    CHECK_ERR(coro_run(echo_ahead, NULL, NULL, &ahead), 0);
    off(CORO__SYS_URING_SETUP);
}
