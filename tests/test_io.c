/*
 * test_io.c - non-blocking I/O for tasks over loopback and pipes: reads and
 * writes that suspend only their task, deadlines on every call, end of
 * file, a peer that resets, half-closed connections, short writes, closing
 * an fd under its waiters, several readers of one fd, and the loop
 * sleeping in the poller instead of reporting a deadlock, or busy polling
 * first.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"
#include "hooks.h"

static coro_run_options real = {0, 0, 0, 0, 0, 0};

/* Runs fn as the main task on the real clock; it must succeed. */
static void run_real(coro_fn fn)
{
    CHECK_ERR(coro_run(fn, NULL, NULL, &real), 0);
}

/* A listener on a loopback port, a client connected to it and the
 * server's end of that connection. */
static void tcp_pair(int *lfd, int *client, int *server)
{
    *lfd = coro_tcp_listen("127.0.0.1", 0, 0);
    CHECK(*lfd >= 0);
    *client = coro_tcp_connect("127.0.0.1", coro_socket_port(*lfd));
    CHECK(*client >= 0);
    *server = coro_accept(*lfd);
    CHECK(*server >= 0);
}

/* ---- a pipe between two tasks ---- */

static int pipe_fds[2];

static void *pipe_writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        char c = (char)('a' + i);
        CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
        CHECK_INT(coro_write(pipe_fds[1], &c, 1), 1);
    }
    CHECK_ERR(coro_fd_close(pipe_fds[1]), 0);
    return NULL;
}

static void *ticker(void *arg)
{
    int *ticks = arg;

    for (int i = 0; i < 5; i++) {
        CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
        (*ticks)++;
    }
    return NULL;
}

static void *pipe_reader(void *arg)
{
    char buf[16];
    size_t got = 0;
    long n;
    int ticks = 0;

    (void)arg;
    CHECK_INT(pipe(pipe_fds), 0); /* blocking fds: adopted on first use */
    CHECK_ERR(coro_spawn(NULL, pipe_writer, NULL, NULL), 0);
    CHECK_ERR(coro_spawn(NULL, ticker, &ticks, NULL), 0);
    while ((n = coro_read(pipe_fds[0], buf + got, sizeof buf - got)) > 0)
        got += (size_t)n;
    CHECK_INT(n, 0); /* end of file */
    CHECK_INT(got, 5);
    CHECK(memcmp(buf, "abcde", 5) == 0);
    CHECK_INT(ticks, 5); /* the reads suspended only this task */
    CHECK(fcntl(pipe_fds[0], F_GETFL) & O_NONBLOCK);
    CHECK_ERR(coro_fd_close(pipe_fds[0]), 0);
    return NULL;
}

TEST(reads_suspend_only_their_task_until_data_or_end_of_file)
{
    run_real(pipe_reader);
}

/* ---- TCP echo over loopback ---- */

struct echo {
    int lfd, port, clients, served;
};

static void *echo_conn(void *arg)
{
    int fd = (int)N(arg);
    char buf[256];
    long n;

    while ((n = coro_read(fd, buf, sizeof buf)) > 0)
        CHECK_ERR(coro_write_all(fd, buf, (size_t)n), 0);
    CHECK_INT(n, 0);
    CHECK_ERR(coro_fd_close(fd), 0);
    return NULL;
}

static void *echo_server(void *arg)
{
    struct echo *e = arg;

    for (int i = 0; i < e->clients; i++) {
        int fd = coro_accept(e->lfd);
        CHECK(fd >= 0);
        CHECK_ERR(coro_spawn(NULL, echo_conn, P(fd), NULL), 0);
        e->served++;
    }
    return NULL;
}

static void *echo_client(void *arg)
{
    struct echo *e = arg;
    char msg[64], back[64];
    int fd = coro_tcp_connect_until("127.0.0.1", e->port, coro_after(CORO_SEC(5)));
    long n;

    CHECK(fd >= 0);
    for (int round = 0; round < 20; round++) {
        size_t len = (size_t)snprintf(msg, sizeof msg, "hello %d from %d", round, fd);
        size_t got = 0;

        CHECK_ERR(coro_write_all(fd, msg, len), 0);
        while (got < len) {
            n = coro_read_until(fd, back + got, len - got, coro_after(CORO_SEC(5)));
            CHECK(n > 0);
            got += (size_t)n;
        }
        CHECK(memcmp(msg, back, len) == 0);
    }
    CHECK_ERR(coro_shutdown(fd, CORO_SHUT_WR), 0);  /* half-closed: the server sees EOF */
    CHECK_INT(coro_read(fd, back, sizeof back), 0); /* and closes its side */
    CHECK_ERR(coro_fd_close(fd), 0);
    return NULL;
}

static void *echo_main(void *arg)
{
    struct echo *e = arg;
    coro_task *server;

    e->lfd = coro_tcp_listen("127.0.0.1", 0, 0);
    CHECK(e->lfd >= 0);
    e->port = coro_socket_port(e->lfd);
    CHECK(e->port > 0);
    CHECK_ERR(coro_spawn(&server, echo_server, e, NULL), 0);
    for (int i = 0; i < e->clients; i++)
        CHECK_ERR(coro_spawn(NULL, echo_client, e, NULL), 0);
    CHECK_ERR(coro_await(server, NULL), 0);
    return NULL;
}

TEST(tcp_echo_between_tasks_over_loopback)
{
    struct echo e = {-1, 0, 20, 0};

    CHECK_ERR(coro_run(echo_main, &e, NULL, &real), 0);
    CHECK_INT(e.served, 20);
    CHECK_ERR(coro_fd_close(e.lfd), 0);
}

/* ---- deadlines, refusals, resets ---- */

static void *deadlines(void *arg)
{
    int lfd = coro_tcp_listen("127.0.0.1", 0, 0), fd, port;
    char c;
    coro_time t0;

    (void)arg;
    CHECK(lfd >= 0);
    port = coro_socket_port(lfd);
    t0 = coro_now();
    CHECK_ERR(coro_accept_until(lfd, coro_after(CORO_MSEC(20))), CORO_ETIMEDOUT);
    CHECK(coro_now() - t0 >= CORO_MSEC(20));
    CHECK_ERR(coro_accept_until(lfd, t0), CORO_ETIMEDOUT); /* past: at once */
    fd = coro_tcp_connect("127.0.0.1", port);
    CHECK(fd >= 0);
    CHECK_INT(coro_read_until(fd, &c, 1, coro_after(CORO_MSEC(10))), CORO_ETIMEDOUT);
    close_all(fd, lfd, -1);
    /* Nobody listens there any more. */
    CHECK_ERR(coro_tcp_connect("127.0.0.1", port), CORO_ECONNREFUSED);
    return NULL;
}

TEST(every_io_call_times_out_at_its_deadline)
{
    run_real(deadlines);
}

static void *reset_peer(void *arg)
{
    int lfd, fd, peer;
    struct linger lg = {1, 0};
    char buf[64];
    long n;

    (void)arg;
    tcp_pair(&lfd, &fd, &peer);
    CHECK_INT(coro_write(peer, "x", 1), 1);
    CHECK_INT(coro_read(fd, buf, sizeof buf), 1);
    /* The peer aborts: linger 0 makes close send a reset. */
    CHECK_INT(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    CHECK_ERR(coro_fd_close(peer), 0);
    n = coro_read(fd, buf, sizeof buf);
    CHECK_ERR((int)n, CORO_ECONNRESET);
    n = coro_write(fd, "y", 1); /* after a reset: an error, never SIGPIPE */
    CHECK(n == CORO_EPIPE || n == CORO_ECONNRESET);
    close_all(fd, lfd, -1);
    return NULL;
}

TEST(a_peer_that_resets_gives_errors_not_signals)
{
    run_real(reset_peer);
}

/* ---- after a short read: what is already there is still seen ---- */

static void *short_reader(void *arg)
{
    int fd = (int)N(arg);
    char buf[64];

    CHECK_INT(coro_read(fd, buf, sizeof buf), 2); /* waits, then short: drained */
    CHECK_INT(coro_read(fd, buf, sizeof buf), 2); /* data sent after the short read */
    CHECK(memcmp(buf, "cd", 2) == 0);
    CHECK_INT(coro_read(fd, buf, sizeof buf), 2); /* data and end in one edge ... */
    CHECK_INT(coro_read(fd, buf, sizeof buf), 0); /* ... the end is not lost */
    CHECK_INT(coro_read(fd, buf, sizeof buf), 0);
    return NULL;
}

static void *short_reads(void *arg)
{
    int lfd, fd, peer;
    coro_task *t;

    (void)arg;
    tcp_pair(&lfd, &fd, &peer);
    CHECK_ERR(coro_spawn(&t, short_reader, P(fd), NULL), 0);
    CHECK_ERR(coro_sleep(1000000), 0); /* the reader waits in the poller */
    CHECK_INT(coro_write(peer, "ab", 2), 2);
    CHECK_ERR(coro_sleep(1000000), 0); /* it read them: less than it asked */
    CHECK_INT(coro_write(peer, "cd", 2), 2);
    CHECK_ERR(coro_sleep(1000000), 0);
    CHECK_INT(coro_write(peer, "ef", 2), 2);
    CHECK_ERR(coro_shutdown(peer, CORO_SHUT_WR), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    close_all(peer, fd, lfd, -1);
    return NULL;
}

TEST(after_a_short_read_later_data_and_a_pending_end_are_seen)
{
    run_real(short_reads);
}

/* ---- short writes: a full pipe ---- */

static void *slow_drain(void *arg)
{
    char buf[4096];
    size_t *total = arg;
    long n;

    while ((n = coro_read(pipe_fds[0], buf, sizeof buf)) > 0) {
        *total += (size_t)n;
        CHECK_ERR(coro_sleep(CORO_USEC(100)), 0);
    }
    CHECK_INT(n, 0);
    return NULL;
}

static void *big_write(void *arg)
{
    size_t n = 1 << 20, total = 0, written = 0;
    char *data = malloc(n);
    coro_task *t;

    (void)arg;
    CHECK(data != NULL);
    memset(data, 'z', n);
    CHECK_INT(pipe(pipe_fds), 0);
    CHECK_ERR(coro_spawn(&t, slow_drain, &total, NULL), 0);
    CHECK_ERR(coro_write_all_until(pipe_fds[1], data, n, coro_after(CORO_SEC(30)), &written), 0);
    CHECK_INT(written, n); /* through many short writes */
    CHECK_ERR(coro_fd_close(pipe_fds[1]), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    CHECK_INT(total, n);
    CHECK_ERR(coro_fd_close(pipe_fds[0]), 0);
    free(data);
    return NULL;
}

TEST(write_all_goes_through_short_writes)
{
    run_real(big_write);
}

/* ---- several waiters, close under waiters ---- */

static int reads_done[4];

static void *reader_n(void *arg)
{
    char c;
    long n = coro_read(pipe_fds[0], &c, 1);

    reads_done[N(arg)] = n == 1 ? c : (int)n;
    return NULL;
}

static void *many_readers(void *arg)
{
    coro_task *t[4];

    (void)arg;
    CHECK_INT(pipe(pipe_fds), 0);
    for (long i = 0; i < 4; i++)
        CHECK_ERR(coro_spawn(&t[i], reader_n, P(i), NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0); /* all four wait on one fd */
    CHECK_INT(coro_write(pipe_fds[1], "AB", 2), 2);
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    CHECK_ERR(coro_fd_close(pipe_fds[0]), 0); /* the two left wake with EBADF */
    for (int i = 0; i < 4; i++)
        CHECK_ERR(coro_await(t[i], NULL), 0);
    CHECK_ERR(coro_fd_close(pipe_fds[1]), 0);
    return NULL;
}

TEST(several_readers_of_one_fd_are_served_in_order_and_close_wakes_the_rest)
{
    memset(reads_done, 0, sizeof reads_done);
    run_real(many_readers);
    CHECK_INT(reads_done[0], 'A'); /* the first two, in the order they came */
    CHECK_INT(reads_done[1], 'B');
    CHECK_ERR(reads_done[2], CORO_EBADF);
    CHECK_ERR(reads_done[3], CORO_EBADF);
}

/* ---- cancellation, misuse, and no false deadlock ---- */

static void *read_forever(void *arg)
{
    char c;

    (void)arg;
    return P(coro_read(pipe_fds[0], &c, 1));
}

static void *cancel_reader(void *arg)
{
    coro_task *t;
    void *out;

    (void)arg;
    CHECK_INT(pipe(pipe_fds), 0);
    CHECK_ERR(coro_spawn(&t, read_forever, NULL, NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_await(t, &out), CORO_ETASKCANCELED);
    CHECK_ERR((int)N(out), CORO_ECANCELED);
    CHECK_ERR(coro_fd_close(pipe_fds[0]), 0);
    CHECK_ERR(coro_fd_close(pipe_fds[1]), 0);
    return NULL;
}

TEST(a_canceled_reader_wakes_with_canceled)
{
    run_real(cancel_reader);
}

static void *write_later_from_thread(void *arg)
{
    (void)arg;
    usleep(30000);
    if (write(pipe_fds[1], "!", 1) != 1)
        abort();
    return NULL;
}

static void *wait_for_outside(void *arg)
{
    char c;

    (void)arg;
    /* No timer and no other task: only the fd can wake this one. */
    CHECK_INT(coro_read(pipe_fds[0], &c, 1), 1);
    CHECK_INT(c, '!');
    return NULL;
}

TEST(a_loop_waiting_only_on_io_sleeps_in_the_poller_not_in_a_deadlock)
{
    pthread_t th;

    CHECK_INT(pipe(pipe_fds), 0);
    CHECK_INT(pthread_create(&th, NULL, write_later_from_thread, NULL), 0);
    run_real(wait_for_outside);
    CHECK_INT(pthread_join(th, NULL), 0);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

/* ---- busy polling ---- */

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

static pid_t loop_tid; /* the thread that runs the loop */
static int counting;   /* the loop's task is about to wait (atomic) */
static int counted;    /* it has taken its count (atomic) */
static long slept;

/* The calling thread's voluntary context switches so far: how often it
 * slept. */
static long sleeps(void)
{
    FILE *f = fopen("/proc/thread-self/status", "r");
    char line[128];
    long n = -1;

    CHECK(f != NULL);
    while (fgets(line, sizeof line, f) != NULL &&
           sscanf(line, "voluntary_ctxt_switches: %ld", &n) != 1)
        ;
    fclose(f);
    CHECK(n >= 0);
    return n;
}

/* Whether thread tid of this process sleeps now (state S in /proc). */
static int asleep(pid_t tid)
{
    char path[64], line[512], *p;
    FILE *f;
    int s = 0;

    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    if (fgets(line, sizeof line, f) != NULL && (p = strrchr(line, ')')) != NULL)
        s = p[1] == ' ' && p[2] == 'S';
    fclose(f);
    return s;
}

/* Waits up to 5 s for *flag. */
static void wait_flag(int *flag)
{
    for (int i = 0; i < 5000 && !__atomic_load_n(flag, __ATOMIC_ACQUIRE); i++)
        usleep(1000);
}

/* Writes a byte to the pipe once the loop's task waits: when arg is NULL
 * once the loop's thread sleeps, else 30 ms on (a busy-polling thread
 * never sleeps). Stays until the count is taken, so that its exit cannot
 * disturb it. */
static void *write_when_waiting(void *arg)
{
    wait_flag(&counting);
    if (arg == NULL)
        for (int i = 0; i < 5000 && !asleep(loop_tid); i++)
            usleep(1000);
    else
        usleep(30000);
    if (write(pipe_fds[1], "!", 1) != 1)
        abort();
    wait_flag(&counted);
    return NULL;
}

static void *count_sleeps_waiting(void *arg)
{
    long before;
    char c;

    (void)arg;
    /* A read that times out at once adopts the pipe: the poller is set up
     * before the count starts. */
    CHECK_INT(coro_read_until(pipe_fds[0], &c, 1, coro_now()), CORO_ETIMEDOUT);
    before = sleeps();
    __atomic_store_n(&counting, 1, __ATOMIC_RELEASE);
    CHECK_INT(coro_read(pipe_fds[0], &c, 1), 1);
    slept = sleeps() - before;
    __atomic_store_n(&counted, 1, __ATOMIC_RELEASE);
    CHECK_INT(c, '!');
    return NULL;
}

/* A read of a pipe another thread writes to, with busy polling for up to
 * `busy`: the times the loop's thread slept meanwhile. */
static long sleeps_waiting_for_outside(coro_time busy)
{
    coro_run_options o = {0, 0, 0, busy, 0, 0};
    pthread_t th;

    counting = counted = 0;
    loop_tid = (pid_t)syscall(SYS_gettid);
    CHECK_INT(pipe(pipe_fds), 0);
    CHECK_INT(pthread_create(&th, NULL, write_when_waiting, busy > 0 ? &o : NULL), 0);
    CHECK_ERR(coro_run(count_sleeps_waiting, NULL, NULL, &o), 0);
    CHECK_INT(pthread_join(th, NULL), 0);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return slept;
}

static void *sleep_then_write(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_sleep(CORO_MSEC(20)), 0);
    CHECK_INT(coro_write(pipe_fds[1], "!", 1), 1);
    return NULL;
}

static void *timer_while_busy_polling(void *arg)
{
    coro_time t0 = coro_now();

    CHECK_ERR(coro_spawn(NULL, sleep_then_write, NULL, NULL), 0);
    wait_for_outside(arg);
    /* The busy poll (10 s) stopped at the sleep's deadline. */
    CHECK(coro_now() - t0 < CORO_SEC(5));
    return NULL;
}

TEST(busy_polling_serves_io_without_sleeping_and_stops_at_timers)
{
    coro_run_options busy = {0, 0, 0, CORO_SEC(10), 0, 0}, bad = {0, 0, 0, -1, 0, 0};

    /* The loop's thread sleeps in the poller without busy polling, and
     * not at all with 10 s of it (valgrind and qemu schedule threads
     * their own way, and ThreadSanitizer's interceptors take locks of
     * their own that the writer's thread contends: not counted there). */
    if (!test_slow_env() && !UNDER_TSAN) {
        CHECK(sleeps_waiting_for_outside(0) >= 1);
        CHECK_INT(sleeps_waiting_for_outside(CORO_SEC(10)), 0);
    } else {
        sleeps_waiting_for_outside(CORO_SEC(10));
    }
    CHECK_INT(pipe(pipe_fds), 0);
    CHECK_ERR(coro_run(timer_while_busy_polling, NULL, NULL, &busy), 0);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    CHECK_ERR(coro_run(wait_for_outside, NULL, NULL, &bad), CORO_EINVAL);
}

static void *io_misuse(void *arg)
{
    char c;

    (void)arg;
    CHECK_ERR(coro_fd_wait(-1, CORO_READ), CORO_EBADF);
    CHECK_ERR(coro_fd_wait(0, CORO_READ | CORO_WRITE), CORO_EINVAL);
    CHECK_INT(coro_read(-1, &c, 1), CORO_EBADF);
    CHECK_INT(coro_read(1000000, &c, 1), CORO_EBADF);
    CHECK_ERR(coro_tcp_listen("not an address", 0, 0), CORO_EINVAL);
    CHECK_ERR(coro_tcp_listen("127.0.0.1", 70000, 0), CORO_EINVAL);
    CHECK_ERR(coro_tcp_connect("localhost", 80), CORO_EINVAL); /* names: not here */
    CHECK_ERR(coro_unix_listen("", 0), CORO_EINVAL);
    CHECK_ERR(coro_unix_connect("/nonexistent/socket"), CORO_ENOENT);
    CHECK_ERR(coro_shutdown(0, 9), CORO_EINVAL);
    CHECK_ERR(coro_fd_close(-1), CORO_EBADF);
    return NULL;
}

TEST(io_misuse_is_answered_with_errors)
{
    char c;

    CHECK_INT(coro_read(0, &c, 1), CORO_ENOLOOP);
    CHECK_ERR(coro_accept(0), CORO_ENOLOOP);
    run_real(io_misuse);
}

/* ---- Unix-domain sockets ---- */

static char sock_path[64];

static void *unix_server(void *arg)
{
    int lfd = (int)N(arg), fd = coro_accept(lfd);
    char buf[8];

    CHECK(fd >= 0);
    CHECK_INT(coro_read(fd, buf, sizeof buf), 4);
    CHECK_ERR(coro_write_all(fd, "pong", 4), 0);
    CHECK_ERR(coro_fd_close(fd), 0);
    return NULL;
}

static void *unix_main(void *arg)
{
    int lfd, fd;
    char buf[8];

    (void)arg;
    snprintf(sock_path, sizeof sock_path, "/tmp/coro-test-%d.sock", (int)getpid());
    unlink(sock_path);
    lfd = coro_unix_listen(sock_path, 0);
    CHECK(lfd >= 0);
    CHECK_ERR(coro_spawn(NULL, unix_server, P(lfd), NULL), 0);
    fd = coro_unix_connect(sock_path);
    CHECK(fd >= 0);
    CHECK_ERR(coro_write_all(fd, "ping", 4), 0);
    CHECK_INT(coro_read(fd, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "pong", 4) == 0);
    CHECK_INT(coro_read(fd, buf, sizeof buf), 0);
    close_all(fd, lfd, -1);
    unlink(sock_path);
    return NULL;
}

TEST(unix_domain_sockets_connect_and_talk)
{
    run_real(unix_main);
}

/* ---- short reads and writes, EINTR: injected ---- */

TEST(one_byte_reads_and_writes_and_eintr_change_nothing)
{
    struct echo e = {-1, 0, 4, 0};

    coro__io_inject(1); /* 1 byte per call; every third call EINTR */
    coro__sys_inject(CORO__SYS_READ, 3, 0, EINTR);
    coro__sys_inject(CORO__SYS_WRITE, 3, 0, EINTR);
    CHECK_ERR(coro_run(echo_main, &e, NULL, &real), 0);
    coro__io_inject(0);
    CHECK(coro__sys_failures(CORO__SYS_WRITE) > 0); /* reads may be received ahead */
    coro__sys_inject(CORO__SYS_READ, 0, 0, 0);
    coro__sys_inject(CORO__SYS_WRITE, 0, 0, 0);
    CHECK_INT(e.served, 4);
    CHECK_ERR(coro_fd_close(e.lfd), 0);
}

/* ---- vectored I/O, sendfile, UDP ---- */

static void *vectors_and_files(void *arg)
{
    int lfd, a, b, file;
    char h[] = "head:", t[] = "tail", x[5], y[16], path[64], got[64];
    struct iovec out[2] = {{h, 5}, {t, 4}}, in[2] = {{x, 5}, {y, sizeof y}};
    long long off = 2;
    long n, total = 0;

    (void)arg;
    tcp_pair(&lfd, &a, &b);
    CHECK_INT(coro_writev(a, out, 2), 9);
    CHECK_INT(coro_readv_until(b, in, 2, coro_after(CORO_SEC(5))), 9);
    CHECK(memcmp(x, "head:", 5) == 0 && memcmp(y, "tail", 4) == 0);
    CHECK_INT(coro_writev(a, out, 0), CORO_EINVAL);

    snprintf(path, sizeof path, "/tmp/coro-sendfile-%d", (int)getpid());
    file = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(file >= 0);
    CHECK_INT(write(file, "0123456789", 10), 10);
    CHECK_INT(coro_sendfile(a, file, &off, 8), 8); /* from offset 2 */
    CHECK_INT(off, 10);
    while (total < 8 && (n = coro_read_until(b, got + total, sizeof got - (size_t)total,
                                             coro_after(CORO_SEC(5)))) > 0)
        total += n;
    CHECK_INT(total, 8);
    CHECK(memcmp(got, "23456789", 8) == 0);
    close(file);
    unlink(path);
    close_all(a, b, lfd, -1);
    return NULL;
}

TEST(readv_writev_and_sendfile_move_what_they_say)
{
    run_real(vectors_and_files);
}

static void *udp_pong(void *arg)
{
    int fd = (int)N(arg), port;
    char buf[32], host[64];
    long n = coro_udp_recv(fd, buf, sizeof buf, host, sizeof host, &port);

    CHECK_INT(n, 4);
    CHECK_STR(host, "127.0.0.1");
    CHECK_INT(coro_udp_send(fd, "pong", 4, host, port), 4);
    return NULL;
}

static void *udp_main(void *arg)
{
    int srv = coro_udp_bind("127.0.0.1", 0), cli = coro_udp_bind("127.0.0.1", 0);
    char buf[32];

    (void)arg;
    CHECK(srv >= 0 && cli >= 0);
    CHECK_ERR(coro_spawn(NULL, udp_pong, P(srv), NULL), 0);
    CHECK_INT(coro_udp_send(cli, "ping", 4, "127.0.0.1", coro_socket_port(srv)), 4);
    CHECK_INT(coro_udp_recv_until(cli, buf, sizeof buf, NULL, 0, NULL, coro_after(CORO_SEC(5))), 4);
    CHECK(memcmp(buf, "pong", 4) == 0);
    CHECK_INT(coro_udp_recv_until(cli, buf, sizeof buf, NULL, 0, NULL, coro_after(CORO_MSEC(5))),
              CORO_ETIMEDOUT);
    CHECK_INT(coro_udp_send(cli, "x", 1, "not an address", 1), CORO_EINVAL);
    close_all(srv, cli, -1);
    return NULL;
}

TEST(udp_datagrams_go_both_ways_with_deadlines)
{
    run_real(udp_main);
}

/* ---- the fd table grows while tasks wait on fds in it ---- */

static int grow_fds[2];

static void *wait_to_write(void *arg)
{
    static char block[4 << 16];
    size_t written = 0;

    (void)arg;
    /* Fills the pipe, then waits in the fd table for room. */
    CHECK_ERR(
        coro_write_all_until(grow_fds[1], block, sizeof block, coro_after(CORO_SEC(10)), &written),
        0);
    CHECK_INT(written, sizeof block);
    return NULL;
}

static void *grow_table(void *arg)
{
    int extra[300][2];
    char buf[1 << 16];
    coro_task *w;
    long n, total = 0;

    (void)arg;
    CHECK_INT(pipe(grow_fds), 0);
    CHECK_ERR(coro_spawn(&w, wait_to_write, NULL, NULL), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* the writer waits now */
    for (int i = 0; i < 300; i++) {       /* fds far above: the table moves */
        CHECK_INT(pipe(extra[i]), 0);
        CHECK_INT(coro_read_until(extra[i][0], buf, 1, coro_now()), CORO_ETIMEDOUT);
    }
    while (total < (long)sizeof buf * 4 && (n = coro_read(grow_fds[0], buf, sizeof buf)) > 0)
        total += n;
    CHECK_INT(total, (long)sizeof buf * 4);
    CHECK_ERR(coro_await(w, NULL), 0);
    for (int i = 0; i < 300; i++) {
        CHECK_ERR(coro_fd_close(extra[i][0]), 0);
        CHECK_ERR(coro_fd_close(extra[i][1]), 0);
    }
    CHECK_ERR(coro_fd_close(grow_fds[0]), 0);
    CHECK_ERR(coro_fd_close(grow_fds[1]), 0);
    return NULL;
}

TEST(waiters_survive_the_fd_table_growing_under_them)
{
    run_real(grow_table);
}

/* ---- every blocking call checks in one order ---- */

/* The loop, then the arguments, then the cancellation, then whatever
 * could complete at once: a canceled task still hears that an fd is bad,
 * and hears of its cancellation even where the call could complete. */
static void *canceled_calls(void *arg)
{
    int *p = arg, fd = p[0];
    char c = 'x';
    struct addrinfo *res = (struct addrinfo *)1;
    coro_case bad = {NULL, CORO_RECV, &c, 0};
    coro_mutex m = CORO_MUTEX_INIT;

    CHECK_ERR(coro_cancel(coro_task_self()), 0);
    CHECK_ERR(coro_read(-1, &c, 1), CORO_EBADF);
    CHECK_ERR(coro_write(-1, &c, 1), CORO_EBADF);
    CHECK_ERR(coro_fd_wait(-1, CORO_READ), CORO_EBADF);
    CHECK_ERR(coro_fd_wait(fd, 7), CORO_EINVAL);
    CHECK_ERR(coro_accept(-1), CORO_EBADF);
    CHECK_ERR(coro_file_read(-1, &c, 1, 0), CORO_EBADF);
    CHECK_ERR(coro_file_write(fd, NULL, 1, 0), CORO_EINVAL);
    CHECK_ERR(coro_file_open(NULL, O_RDONLY, 0), CORO_EINVAL);
    CHECK_ERR(coro_offload(NULL, NULL, NULL), CORO_EINVAL);
    CHECK_ERR(coro_getaddrinfo(NULL, NULL, NULL, &res, CORO_NEVER), CORO_EINVAL);
    CHECK_PTR(res, NULL);
    CHECK_ERR(coro_chan_recv(NULL, &c), CORO_EINVAL);
    CHECK_ERR(coro_select(&bad, 1), CORO_EINVAL);
    CHECK_ERR(coro_await(NULL, NULL), CORO_EINVAL);
    CHECK_ERR(coro_mutex_lock(NULL), CORO_EINVAL);
    /* A canceled call leaves an fd the loop has not used as it was: not
     * made non-blocking, not watched (p[3] is such a pipe end). */
    CHECK_ERR(coro_write(p[3], &c, 1), CORO_ECANCELED);
    CHECK_ERR(coro_fd_wait(p[3], CORO_WRITE), CORO_ECANCELED);
    CHECK_INT(fcntl(p[3], F_GETFL) & O_NONBLOCK, 0);
    CHECK_ERR(coro_read(1000000, &c, 1), CORO_EBADF);
    CHECK_ERR(coro_accept(1000000), CORO_EBADF);
    /* fd holds a byte and m is free: both could complete, neither does. */
    CHECK_ERR(coro_read(fd, &c, 1), CORO_ECANCELED);
    CHECK_ERR(coro_fd_wait(fd, CORO_READ), CORO_ECANCELED);
    CHECK_ERR(coro_file_read(fd, &c, 1, -1), CORO_ECANCELED);
    CHECK_ERR(coro_mutex_lock(&m), CORO_ECANCELED);
    CHECK_ERR(coro_sleep(0), CORO_ECANCELED);
    p[2] = 1;
    return NULL;
}

static void *check_order(void *arg)
{
    int p[5] = {-1, -1, 0, -1, -1};
    coro_task *t;

    (void)arg;
    CHECK_ERR(pipe(p), 0);
    CHECK_ERR(pipe(p + 3), 0);
    CHECK_INT(write(p[1], "y", 1), 1);
    CHECK_ERR(coro_spawn(&t, canceled_calls, p, NULL), 0);
    coro_await(t, NULL);
    CHECK_INT(p[2], 1);
    CHECK_INT(read(p[0], p + 2, 1), 1); /* the byte is still there */
    CHECK_ERR(coro_fd_close(p[0]), 0);
    CHECK_ERR(coro_fd_close(p[1]), 0);
    CHECK_INT(close(p[3]), 0);
    CHECK_INT(close(p[4]), 0);
    return NULL;
}

TEST(every_blocking_call_checks_the_loop_the_arguments_then_the_cancellation)
{
    char c;

    /* Outside a loop, the loop's absence comes first. */
    CHECK_ERR(coro_read(-1, &c, 1), CORO_ENOLOOP);
    CHECK_ERR(coro_fd_wait(-1, 7), CORO_ENOLOOP);
    CHECK_ERR(coro_file_read(-1, &c, 1, 0), CORO_ENOLOOP);
    CHECK_ERR(coro_file_open(NULL, O_RDONLY, 0), CORO_ENOLOOP);
    CHECK_ERR(coro_offload(NULL, NULL, NULL), CORO_ENOLOOP);
    CHECK_ERR(coro_chan_recv(NULL, &c), CORO_ENOLOOP);
    CHECK_ERR(coro_read(5, NULL, 1), CORO_ENOLOOP);
    CHECK_ERR(coro_readv(5, NULL, 1), CORO_ENOLOOP);
    CHECK_ERR(coro_sendfile(5, -1, NULL, 1), CORO_ENOLOOP);
    CHECK_ERR(coro_tcp_connect("not an address", 1), CORO_ENOLOOP);
    CHECK_ERR(coro_udp_send(5, &c, 1, "not an address", 1), CORO_ENOLOOP);
    run_real(check_order);
}
